package proc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// groupHasLiving reports whether a member of group pgid is more than a
// zombie. Signalling a zombie succeeds, and where nothing reaps orphans (a
// container whose first process is not an init) a killed Terraform stays one
// for good: waiting for its group to be gone would never end.
func groupHasLiving(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: trust the signal
	}
	want := strconv.Itoa(pgid)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		state, pgrp, ok := procStat(e.Name())
		if ok && pgrp == want && state != "Z" && state != "X" {
			return true
		}
	}
	return false
}

// living reports whether process pid is more than a zombie.
func living(pid int) bool {
	state, _, ok := procStat(strconv.Itoa(pid))
	return !ok || (state != "Z" && state != "X")
}

// procStat reads a process's state and process group from /proc/PID/stat
// ("pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses).
func procStat(pid string) (state, pgrp string, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", "", false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 3 {
		return "", "", false
	}
	return f[0], f[2], true
}

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, 100 on every
// architecture Linux runs on.
const userHZ = 100

// Started is when process pid started, to the hundredth of a second; false
// when it cannot be read (no such process).
func Started(pid int) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // starttime, since boot
	boot, ok := bootTime()
	if err != nil || !ok {
		return time.Time{}, false
	}
	return boot.Add(time.Duration(ticks) * time.Second / userHZ), true
}

// bootTime is when the machine booted (btime in /proc/stat).
func bootTime() (time.Time, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(s, 0), err == nil
		}
	}
	return time.Time{}, false
}
