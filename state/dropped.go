package state

import (
	"sort"

	"github.com/stack-tools/stack/definition"
)

// Dropped lists the steps the record holds that g does not have and that
// still exist (applied, failed or interrupted), in name order.
func (r *Record) Dropped(g *definition.Graph) []string {
	var names []string
	for n, st := range r.Steps {
		if _, ok := g.ByName[n]; !ok && st.Status != StatusPending && st.Status != StatusDestroyed {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
