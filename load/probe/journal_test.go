package probe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A journal reopened after a crash keeps every acknowledged record, cuts a
// torn last line, and numbers on from where it was.
func TestJournalSurvivesATornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := j.Append(context.Background(), &Arrival{At: time.Now(), Kind: "http", Body: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"n":3,"at":"2026-`) // a write cut short by a crash
	f.Close()

	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a := &Arrival{At: time.Now(), Kind: "http", Body: "after"}
	if err := j.Append(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	b, next, err := j.Read(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if a.N != 3 || next != 4 || len(lines) != 4 || !strings.Contains(lines[3], `"body":"after"`) {
		t.Fatalf("after reopening: n %d, next %d, %d lines:\n%s", a.N, next, len(lines), b)
	}
	if b, next, _ := j.Read(2, 1); next != 3 || !strings.Contains(string(b), `"n":2`) {
		t.Errorf("read from 2: next %d %s", next, b)
	}
}
