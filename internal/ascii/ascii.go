// Package ascii holds the byte-level helpers the HTTP/1.1 code in load and
// load/dumpster share (neither imports the other).
package ascii

// EqualFold reports whether b equals lower, a lower-case ASCII string, with
// upper-case ASCII letters in b folded: a header name or token compared
// without allocating.
func EqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x := b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != lower[i] {
			return false
		}
	}
	return true
}
