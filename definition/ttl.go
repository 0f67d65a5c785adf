package definition

import (
	"fmt"
	"time"
)

// ParseTTL reads a TTL as written in a definition or on the command line: a Go
// duration such as 8h or 90m; "" means none.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("ttl %q is not a positive duration; use a Go duration such as 8h, 90m or 1h30m", s)
	}
	return d, nil
}
