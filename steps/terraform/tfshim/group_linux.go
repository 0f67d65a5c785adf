package tfshim

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// groupHasLiving reports whether a member of group pgid is more than a
// zombie (internal/proc's, here again: see group_unix.go). Signalling a
// zombie succeeds, and where nothing reaps orphans (a container whose first
// process is not an init) a killed Terraform stays one for good.
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
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) >= 3 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}
