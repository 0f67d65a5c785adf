//go:build unix && !linux

package proc

// groupHasLiving trusts the signal where there is no /proc to tell zombies
// apart.
func groupHasLiving(pgid int) bool { return true }

// living trusts the signal where there is no /proc to tell zombies apart.
func living(pid int) bool { return true }
