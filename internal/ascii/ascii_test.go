package ascii

import "testing"

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		b, lower string
		want     bool
	}{
		{"Content-Length", "content-length", true},
		{"content-length", "content-length", true},
		{"CLOSE", "close", true},
		{"closed", "close", false},
		{"clos", "close", false},
		{"Keep-Alive", "close", false},
		{"", "", true},
	} {
		if got := EqualFold([]byte(c.b), c.lower); got != c.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", c.b, c.lower, got, c.want)
		}
	}
}
