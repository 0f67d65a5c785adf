package engine

import (
	"fmt"

	"github.com/stack-tools/stack/state"
)

// chooseProfile is the profile `up` applies. An existing stack keeps the one it
// was brought up with unless another is asked for on purpose: a production
// clone must not be reshaped to the defaults by an `up` that forgot --profile.
func (e *Engine) chooseProfile(rec *state.Record, opts UpOptions) string {
	if rec == nil {
		return opts.Profile
	}
	switch {
	case opts.Profile == "" && !opts.ProfileSet && rec.Profile != "":
		e.emit(Event{Stack: rec.Name, Type: EventInfo, Message: fmt.Sprintf("keeping profile %s, which the stack was brought up with; pass --profile to change it", rec.Profile)})
		return rec.Profile
	case opts.Profile != rec.Profile:
		e.emit(Event{Stack: rec.Name, Type: EventInfo, Message: fmt.Sprintf("changing the profile from %s to %s, as --profile asks", profileName(rec.Profile), profileName(opts.Profile))})
	}
	return opts.Profile
}

func profileName(p string) string {
	if p == "" {
		return "(none)"
	}
	return p
}
