package engine

import

// dropped lists the steps the record holds that plan does not have and that
// still exist (applied, failed or interrupted), in name order.
"github.com/stack-tools/stack/definition"

func (r *Record) dropped(plan *definition.Graph) []string {
	var names []string
	for n, st := range r.Steps {
		if _, ok := plan.ByName[n]; !ok && st.Status != StatusPending && st.Status != StatusDestroyed {
			names = append(names, n)
		}
	}
	return sortStrings(names)
}
