package scenario_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stack-tools/stack/load/scenario"
)

func TestParseSendersReadsColumns(t *testing.T) {
	list, err := scenario.ParseSenders([]byte("\ufeffPhone, first_name,last_name,group\n+15550100001,Ada,Lovelace,vip\n+15550100002,Alan,Turing,\n"), "numbers.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Phone != "+15550100001" || list[0].Name != "Ada Lovelace" || list[0].ID != "+15550100001" ||
		(*list[0].Columns)["group"] != "vip" || (*list[1].Columns)["group"] != "" {
		t.Fatalf("%+v", list)
	}
}

func TestParseSendersNamesBadLines(t *testing.T) {
	for name, c := range map[string]struct{ csv, want string }{
		"empty":       {"", "numbers.csv: the file is empty"},
		"header only": {"phone,name\n", "no senders after the header row (line 1)"},
		"no identity": {"name,group\nAda,vip\n", "numbers.csv line 1: no phone, id or email column"},
		"duplicate":   {"phone\n+15550100001\n+15550100002\n+15550100001\n", "line 4: phone +15550100001 repeats line 2"},
		"bad phone":   {"phone,name\n+15550100001,a\n555-0100,b\n", `line 3: phone "555-0100" is not in E.164 form`},
		"empty phone": {"phone,name\n,a\n", "line 2: empty phone"},
		"ragged":      {"phone,name\n+15550100001\n", "record on line 2: wrong number of fields"},
	} {
		_, err := scenario.ParseSenders([]byte(c.csv), "numbers.csv")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
}

func TestSenderPoolJSON(t *testing.T) {
	for in, want := range map[string]scenario.SenderPool{`50`: {N: 50}, `{"file": "n.csv"}`: {File: "n.csv"}} {
		var p scenario.SenderPool
		if err := json.Unmarshal([]byte(in), &p); err != nil || p != want {
			t.Errorf("%s: %+v %v", in, p, err)
		}
		b, _ := json.Marshal(p)
		var back scenario.SenderPool
		if err := json.Unmarshal(b, &back); err != nil || back != want {
			t.Errorf("%s round trip: %s", in, b)
		}
	}
	var p scenario.SenderPool
	if err := json.Unmarshal([]byte(`{"fil": "x"}`), &p); err == nil || !strings.Contains(err.Error(), `{"file": "numbers.csv"}`) {
		t.Errorf("bad pool: %v", err)
	}
}

// A listed sender's columns reach the templates, and every message comes
// from one of the listed senders.
func TestGeneratorUsesTheSenderList(t *testing.T) {
	list, err := scenario.ParseSenders([]byte("phone,group\n+15550100001,vip\n+15550100002,trial\n"), "numbers.csv")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.FromFiles(map[string]string{
		"scenario.json": `{"name": "list", "types": [{"name": "sms", "weight": 1, "body": "sms.tmpl"}]}`,
		"sms.tmpl":      `{{.Sender.Phone}} {{.Sender.Columns.group}}`,
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	g, err := scenario.NewGenerator(sc, "http://127.0.0.1:1", scenario.Options{Seed: 3, SenderList: list})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var m scenario.Message
	for range 200 {
		if err := g.Next(&m); err != nil {
			t.Fatal(err)
		}
		seen[string(m.Body)]++
	}
	if len(seen) != 2 || seen["+15550100001 vip"] == 0 || seen["+15550100002 trial"] == 0 {
		t.Errorf("bodies: %v", seen)
	}
}
