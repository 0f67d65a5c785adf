package generator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A generator step naming a sender file has it checked when the definition
// is validated (before anything runs), with the file's bad lines; a good one
// becomes the run's senders.
func TestSenderFileValidatedWithLineNumbers(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "numbers.csv"), []byte("phone,group\n+15550100001,a\n+15550100001,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.csv"), []byte("phone,group\n+15550100001,a\n+15550100002,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	step := func(file string, extra string) json.RawMessage {
		return json.RawMessage(`{"scenario": "sms-inbound", "target": "http://127.0.0.1:1", "rate": 10, "requests": 5, "senders": {"file": "` + file + `"}` + extra + `}`)
	}
	err := New().ValidateIn(dir, step("numbers.csv", ""))
	if err == nil || !strings.Contains(err.Error(), "numbers.csv: 1 bad rows") || !strings.Contains(err.Error(), "line 3: phone +15550100001 repeats line 2") {
		t.Errorf("err = %v", err)
	}
	if err := New().ValidateIn(dir, step("missing.csv", "")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v", err)
	}
	if err := New().Validate(step("ok.csv", `, "workers": {"group": "g", "count": 2}`)); err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("file with workers: %v", err)
	}
	if err := New().ValidateIn(dir, step("ok.csv", "")); err != nil {
		t.Fatal(err)
	}
	c, err := decode(step("ok.csv", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadSenders(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if o := c.ScenarioOptions(); len(o.SenderList) != 2 || (*o.SenderList[1].Columns)["group"] != "b" {
		t.Errorf("options %+v", o)
	}
}
