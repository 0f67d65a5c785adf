package generator

import (
	"strings"
	"testing"
)

// "max_connections" is the connection cap; "max_workers" still works as its
// old name, and giving both is refused.
func TestMaxConnectionsAndItsOldName(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want int
		err  string
	}{
		{`{"max_connections": 32}`, 32, ""},
		{`{"max_workers": 16}`, 16, ""},
		{`{"max_connections": 32, "max_workers": 16}`, 0, "are both given"},
	} {
		got, err := decode([]byte(c.raw))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), "are both given") {
				t.Errorf("%s: %v, want an error saying both are given", c.raw, err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.raw, err)
		case got.MaxWorkers != c.want:
			t.Errorf("%s: cap %d, want %d", c.raw, got.MaxWorkers, c.want)
		}
	}
}
