package engine

import

// stepCost is the declared hourly cost of a step under the plan's profile.
(
	"github.com/stack-tools/stack/definition"
	"github.com/stack-tools/stack/stack"
)

func (r *runner) stepCost(s *definition.Step) (float64, bool) {
	if s.Module == "" {
		return 0, false
	}
	c, ok, err := stack.ReadModuleCost(s.Module)
	if err != nil {
		r.e.emit(Event{Stack: r.w.Name(), Step: s.Name, Type: EventInfo, Message: "cost not recorded: " + err.Error()})
		return 0, false
	}
	if !ok {
		return 0, false
	}
	return c.For(r.plan.Profile)
}
