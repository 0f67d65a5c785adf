package stack

// stepCost is the declared hourly cost of a step under the plan's profile.
func (r *runner) stepCost(s *Step) (float64, bool) {
	if s.Module == "" {
		return 0, false
	}
	c, ok, err := ReadModuleCost(s.Module)
	if err != nil {
		r.e.emit(Event{Stack: r.w.name, Step: s.Name, Type: EventInfo, Message: "cost not recorded: " + err.Error()})
		return 0, false
	}
	if !ok {
		return 0, false
	}
	return c.For(r.plan.Profile)
}
