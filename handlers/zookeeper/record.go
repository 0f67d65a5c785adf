package zookeeper

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// record is what the handler stores with the step: which znodes this stack
// published or created, so a re-run updates only those and down deletes only
// those. It never holds a sensitive value, nor a digest of one.
type record struct {
	Hosts string `json:"hosts"`
	Root  string `json:"root"`
	// Nodes are the published znodes.
	Nodes []recordNode `json:"nodes"`
	// Parents are the znodes this stack created only to hold published ones.
	Parents []string `json:"parents_created,omitempty"`
	// VersionNode is the change counter dependents watch.
	VersionNode *recordVersion `json:"version_node,omitempty"`
	// Pending marks a record stored before a write whose outcome is not known
	// yet: everything in it may or may not exist, but nothing else of ours does.
	Pending bool `json:"pending,omitempty"`
}

type recordNode struct {
	Path string `json:"path"`
	// Version is the znode's data version after the publish (-1 while pending).
	Version int32 `json:"version"`
	// SHA256 is the hex digest of a non-sensitive value.
	SHA256    string `json:"sha256,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
	// Adopted nodes already held the value this stack wanted when it first
	// published; the stack never changes or deletes them.
	Adopted bool `json:"adopted,omitempty"`
}

type recordVersion struct {
	Path       string `json:"path"`
	Version    int32  `json:"version"`
	Generation int64  `json:"generation"`
}

func decodeRecord(raw json.RawMessage) (record, error) {
	var r record
	if len(raw) == 0 || string(raw) == "null" {
		return r, nil
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("zookeeper handler: the step's stored record is unreadable (%w); its znodes must be removed by hand", err)
	}
	return r, nil
}

// owned lists the znodes this record says the stack may change or delete.
func (r record) owned() map[string]bool {
	o := map[string]bool{}
	for _, n := range r.Nodes {
		if !n.Adopted {
			o[n.Path] = true
		}
	}
	for _, p := range r.Parents {
		o[p] = true
	}
	if r.VersionNode != nil {
		o[r.VersionNode.Path] = true
	}
	return o
}

func (r record) empty() bool {
	return len(r.owned()) == 0
}

// mergePending is the record to store before a write: the union of what the
// stack owned before and what the write will make, so that a run killed after
// the write committed still knows every node it owns.
func mergePending(prev, next record) record {
	m := next
	m.Pending = true
	m.Nodes = append([]recordNode(nil), next.Nodes...)
	have := map[string]bool{}
	for i := range m.Nodes {
		have[m.Nodes[i].Path] = true
		m.Nodes[i].Version = -1
	}
	for _, n := range prev.Nodes {
		if !have[n.Path] && !n.Adopted {
			n.Version = -1
			m.Nodes = append(m.Nodes, n)
		}
	}
	sort.Slice(m.Nodes, func(i, j int) bool { return m.Nodes[i].Path < m.Nodes[j].Path })
	parents := map[string]bool{}
	for _, p := range append(append([]string(nil), prev.Parents...), next.Parents...) {
		parents[p] = true
	}
	m.Parents = slices.Sorted(maps.Keys(parents))
	if m.VersionNode == nil && prev.VersionNode != nil {
		v := *prev.VersionNode
		m.VersionNode = &v
	}
	if prev.VersionNode != nil && m.VersionNode != nil && prev.VersionNode.Path != m.VersionNode.Path {
		// The old counter is still ours until the write deletes it.
		m.Parents = append(m.Parents, prev.VersionNode.Path)
		sort.Strings(m.Parents)
	}
	return m
}
