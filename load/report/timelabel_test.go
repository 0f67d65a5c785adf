package report

import (
	"strings"
	"testing"
)

// Ticks a fraction of a second apart stay distinct; long runs read in minutes.
func TestTimeLabelsStayDistinct(t *testing.T) {
	var got []string
	for i := 0; i <= 4; i++ {
		got = append(got, timeLabel(3*float64(i)/4, 3))
	}
	if strings.Join(got, " ") != "0s 0.75s 1.5s 2.25s 3s" {
		t.Errorf("3 s run: %v", got)
	}
	if l := timeLabel(5400, 7200); l != "90m" {
		t.Errorf("2 h run: %s", l)
	}
}
