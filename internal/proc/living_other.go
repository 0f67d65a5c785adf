//go:build unix && !linux

package proc

import "time"

// groupHasLiving trusts the signal where there is no /proc to tell zombies
// apart.
func groupHasLiving(pgid int) bool { return true }

// living trusts the signal where there is no /proc to tell zombies apart.
func living(pid int) bool { return true }

// Started is unknown where there is no /proc to read it from.
func Started(pid int) (time.Time, bool) { return time.Time{}, false }
