package terraform

import (
	"encoding/json"
	"testing"

	"github.com/stack-tools/stack/stack"
)

const twoInstances = `{"version":4,"terraform_version":"1.11.4","serial":7,"lineage":"L1","outputs":{"ids":{"value":["x","y"],"type":["list","string"]}},
 "resources":[
  {"mode":"managed","type":"terraform_data","name":"r","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[
    {"index_key":0,"schema_version":0,"attributes":{"id":"x","input":null}},
    {"index_key":1,"schema_version":0,"attributes":{"id":"y","input":null}}]},
  {"module":"module.m","mode":"managed","type":"terraform_data","name":"k","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[
    {"index_key":"a","schema_version":0,"attributes":{"id":"z"}}]},
  {"mode":"data","type":"terraform_remote_state","name":"d","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[
    {"schema_version":0,"attributes":{"id":"d"}}]}]}`

// Instances are found by id with the address Terraform prints; data sources
// are not resources anyone must destroy.
func TestStateInstances(t *testing.T) {
	st, err := parseState([]byte(twoInstances))
	if err != nil {
		t.Fatal(err)
	}
	got := st.instances()
	want := map[string]string{"x": "terraform_data.r[0]", "y": "terraform_data.r[1]", "z": `module.m.terraform_data.k["a"]`}
	if len(got) != len(want) {
		t.Fatalf("instances %v, want %v", got, want)
	}
	for id, addr := range want {
		if got[id].Address != addr {
			t.Errorf("instance %s: address %q, want %q", id, got[id].Address, addr)
		}
	}
	if m := st.mark(); m.Lineage != "L1" || m.Serial != 7 || m.Missing {
		t.Errorf("mark %+v", m)
	}
}

// The state kept for orphans holds only them, as a new state (its own
// lineage, serial 1, no outputs), and reads back as the same instances.
func TestSubsetStateKeepsOnlyTheOrphans(t *testing.T) {
	sub, err := subsetState([]byte(twoInstances), []stack.Orphan{{ID: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseState(sub)
	if err != nil {
		t.Fatal(err)
	}
	got := st.instances()
	if len(got) != 1 || got["y"].Address != "terraform_data.r[1]" {
		t.Errorf("subset instances %v, want only y at terraform_data.r[1]", got)
	}
	if st.Lineage == "L1" || st.Serial != 1 {
		t.Errorf("subset lineage %q serial %d, want a new lineage and serial 1", st.Lineage, st.Serial)
	}
	var raw map[string]any
	_ = json.Unmarshal(sub, &raw)
	if outs, _ := raw["outputs"].(map[string]any); len(outs) != 0 {
		t.Errorf("subset keeps outputs %v", outs)
	}
}

// Created resources that no state knows are the orphans.
func TestUnknownCreated(t *testing.T) {
	created := []stack.Orphan{{ID: "x", Address: "a"}, {ID: "q", Address: "b"}}
	got := unknown(created, map[string]stack.Orphan{"x": {}})
	if len(got) != 1 || got[0].ID != "q" || got[0].Kept != "" {
		t.Errorf("unknown = %+v, want q alone, kept nowhere", got)
	}
}

// An apply's stream names each resource it created with its id.
func TestStreamLineNamesCreatedResources(t *testing.T) {
	l := parseStreamLine([]byte(`{"@message":"terraform_data.r[0]: Creation complete after 0s [id=abc]","type":"apply_complete","hook":{"resource":{"addr":"terraform_data.r[0]"},"action":"create","id_key":"id","id_value":"abc","elapsed_seconds":0}}`))
	if l.createdAddr != "terraform_data.r[0]" || l.createdID != "abc" {
		t.Errorf("created %q %q", l.createdAddr, l.createdID)
	}
	l = parseStreamLine([]byte(`{"@message":"x: Destruction complete","type":"apply_complete","hook":{"resource":{"addr":"x"},"action":"delete"}}`))
	if l.createdID != "" {
		t.Errorf("a destroy counted as a create: %q", l.createdID)
	}
}
