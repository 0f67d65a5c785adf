package zookeeper

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
)

// target is the tree a run wants: the published znodes and the version node.
type target struct {
	hosts string
	root  string
	nodes map[string]wantNode // full znode path -> value
	// versionPath is the change counter; "" on teardown, which wants nothing.
	versionPath string
	// sensitiveACL protects sensitive values (digest ACL of our identity).
	sensitiveACL []zk.ACL
	// rewrite writes the stack's nodes even when current, so the version node
	// moves and watchers reload (rerun-step --replace).
	rewrite bool
}

type wantNode struct {
	data      []byte
	sensitive bool
}

var worldACL = zk.WorldACL(zk.PermAll)

func (t target) acl(w wantNode) []zk.ACL {
	if w.sensitive {
		return t.sensitiveACL
	}
	return worldACL
}

// znode is what the planner knows about one path.
type znode struct {
	exists bool
	// noAuth: the node exists but its ACL does not let our identity read it.
	noAuth   bool
	data     []byte
	acl      []zk.ACL
	stat     zk.Stat
	children []string
}

// paths lists every znode the planner must look at.
func (t target) paths(prev record) []string {
	set := map[string]bool{}
	add := func(p string) {
		set[p] = true
		for _, a := range ancestors(p) {
			set[a] = true
		}
	}
	for p := range t.nodes {
		add(p)
	}
	if t.versionPath != "" {
		add(t.versionPath)
	}
	for p := range prev.owned() {
		set[p] = true
	}
	for _, n := range prev.Nodes {
		set[n.Path] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// ancestors returns p's ancestors from the top, without "/".
func ancestors(p string) []string {
	var out []string
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

func depth(p string) int { return strings.Count(p, "/") }

// plan is one multi-op transaction and the record it leaves once committed.
type plan struct {
	ops      []any
	opPaths  []string
	record   record
	changed  []string // published paths created, updated or removed
	warnings []string
}

// ErrOwnedByOther: a znode the stack wants to write exists and belongs to
// someone else.
var ErrOwnedByOther = errors.New("node owned by another stack")

// makePlan compares the tree with what the run wants and what the stack
// published before (prev), and returns the writes to make.
//
// Ownership rule: the stack changes or deletes only znodes its record lists as
// published or created by it. An existing znode it did not create is adopted
// (recorded, never written, never deleted) when it already holds exactly the
// value and ACL the stack would write; otherwise the run fails with
// ErrOwnedByOther.
func makePlan(t target, prev record, state map[string]*znode) (plan, error) {
	owned := prev.owned()
	wasParent := map[string]bool{}
	for _, p := range prev.Parents {
		wasParent[p] = true
	}
	var (
		creates []*zk.CreateRequest
		sets    []*zk.SetDataRequest
		deletes []*zk.DeleteRequest
		p       plan
	)
	p.record = record{Hosts: t.hosts, Root: t.root}
	created := map[string]bool{}
	deleted := map[string]bool{}
	keptParents := map[string]bool{}

	for _, pth := range slices.Sorted(maps.Keys(t.nodes)) {
		w := t.nodes[pth]
		s := state[pth]
		rn := recordNode{Path: pth, Sensitive: w.sensitive}
		if !w.sensitive {
			sum := sha256.Sum256(w.data)
			rn.SHA256 = hex.EncodeToString(sum[:])
		}
		acl := t.acl(w)
		switch {
		case !s.exists:
			creates = append(creates, &zk.CreateRequest{Path: pth, Data: w.data, Acl: acl})
			created[pth] = true
			p.changed = append(p.changed, pth)
		case owned[pth]:
			if s.noAuth {
				return p, authError(pth, nil)
			}
			rn.Version = s.stat.Version
			switch {
			case bytes.Equal(s.data, w.data) && aclEqual(s.acl, acl) && !t.rewrite:
				// Already current: no write, so watchers see no change.
			case aclEqual(s.acl, acl):
				sets = append(sets, &zk.SetDataRequest{Path: pth, Data: w.data, Version: s.stat.Version})
				p.changed = append(p.changed, pth)
			case s.stat.NumChildren > 0:
				return p, fmt.Errorf("cannot change whether %s is sensitive: its ACL can only be replaced by re-creating it, and it has children; remove them or publish the value at another path", pth)
			default:
				// Multi cannot set an ACL: delete and create in the same transaction.
				deletes = append(deletes, &zk.DeleteRequest{Path: pth, Version: s.stat.Version})
				creates = append(creates, &zk.CreateRequest{Path: pth, Data: w.data, Acl: acl})
				rn.Version = 0
				p.changed = append(p.changed, pth)
			}
		case !s.noAuth && bytes.Equal(s.data, w.data) && aclEqual(s.acl, acl):
			rn.Adopted = true
			rn.Version = s.stat.Version
		default:
			return p, ownedError(pth)
		}
		p.record.Nodes = append(p.record.Nodes, rn)
	}

	published := map[string]bool{}
	for _, n := range prev.Nodes {
		if n.Adopted {
			continue
		}
		published[n.Path] = true
		if _, still := t.nodes[n.Path]; !still && state[n.Path].exists {
			p.changed = append(p.changed, n.Path)
		}
	}

	if t.versionPath != "" && len(p.changed) > 0 {
		s := state[t.versionPath]
		gen := int64(0)
		if prev.VersionNode != nil {
			gen = prev.VersionNode.Generation
		}
		if s.exists {
			if !owned[t.versionPath] {
				return p, fmt.Errorf("%w: version node %s exists and was not created by this stack; set \"version_node\" to a path of its own (two zookeeper handlers on one step need different ones)", ErrOwnedByOther, t.versionPath)
			}
			// The node holds the truth; a pending record's generation may never
			// have been written.
			if n, err := strconv.ParseInt(string(s.data), 10, 64); err == nil {
				gen = n
			}
		}
		gen++
		data := []byte(strconv.FormatInt(gen, 10))
		p.record.VersionNode = &recordVersion{Path: t.versionPath, Generation: gen}
		if s.exists {
			sets = append(sets, &zk.SetDataRequest{Path: t.versionPath, Data: data, Version: s.stat.Version})
		} else {
			creates = append(creates, &zk.CreateRequest{Path: t.versionPath, Data: data, Acl: worldACL})
			created[t.versionPath] = true
		}
	} else if t.versionPath != "" && prev.VersionNode != nil && prev.VersionNode.Path == t.versionPath && state[t.versionPath].exists {
		v := *prev.VersionNode
		v.Version = state[t.versionPath].stat.Version
		p.record.VersionNode = &v
	}

	// Missing parents of everything created, created top-down.
	needed := map[string]bool{}
	for pth := range t.nodes {
		for _, a := range ancestors(pth) {
			needed[a] = true
		}
	}
	if p.record.VersionNode != nil {
		for _, a := range ancestors(p.record.VersionNode.Path) {
			needed[a] = true
		}
	}
	for _, c := range append([]*zk.CreateRequest(nil), creates...) {
		for _, a := range ancestors(c.Path) {
			if !state[a].exists && !created[a] {
				creates = append(creates, &zk.CreateRequest{Path: a, Acl: worldACL})
				created[a] = true
				keptParents[a] = true
			}
		}
	}

	// What the stack owned and no longer wants goes, deepest first. A node still
	// needed as a parent, or holding children the stack did not create, stays as
	// an empty parent.
	wanted := map[string]bool{}
	for pth := range t.nodes {
		wanted[pth] = true
	}
	if p.record.VersionNode != nil {
		wanted[p.record.VersionNode.Path] = true
	}
	var leftovers []string
	for pth := range owned {
		if !wanted[pth] && state[pth].exists {
			leftovers = append(leftovers, pth)
		}
	}
	sort.Slice(leftovers, func(i, j int) bool {
		if depth(leftovers[i]) != depth(leftovers[j]) {
			return depth(leftovers[i]) > depth(leftovers[j])
		}
		return leftovers[i] < leftovers[j]
	})
	childrenAfter := func(pth string) []string {
		var out []string
		for _, c := range state[pth].children {
			if full := path.Join(pth, c); !deleted[full] {
				out = append(out, full)
			}
		}
		for c := range created {
			if path.Dir(c) == pth && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, pth := range leftovers {
		s := state[pth]
		kids := childrenAfter(pth)
		if !needed[pth] && len(kids) == 0 {
			deletes = append(deletes, &zk.DeleteRequest{Path: pth, Version: s.stat.Version})
			deleted[pth] = true
			continue
		}
		if !needed[pth] {
			p.warnings = append(p.warnings, fmt.Sprintf("left %s in place: it has children this stack did not create (%s)", pth, strings.Join(kids, ", ")))
		}
		keptParents[pth] = true
		if published[pth] && (s.noAuth || len(s.data) > 0) {
			// The value is no longer produced: clear it, keep the node as a parent.
			sets = append(sets, &zk.SetDataRequest{Path: pth, Data: nil, Version: s.stat.Version})
		}
	}
	for pth := range owned {
		if wasParent[pth] && !wanted[pth] && !deleted[pth] && state[pth].exists {
			keptParents[pth] = true
		}
	}
	p.record.Parents = slices.Sorted(maps.Keys(keptParents))

	// ZooKeeper applies a multi's operations in order: deletes (children first),
	// then creates (parents first), then data changes.
	sort.SliceStable(creates, func(i, j int) bool { return depth(creates[i].Path) < depth(creates[j].Path) })
	for _, d := range deletes {
		p.ops, p.opPaths = append(p.ops, d), append(p.opPaths, d.Path)
	}
	for _, c := range creates {
		p.ops, p.opPaths = append(p.ops, c), append(p.opPaths, c.Path)
	}
	for _, s := range sets {
		p.ops, p.opPaths = append(p.ops, s), append(p.opPaths, s.Path)
	}
	sort.Strings(p.changed)
	return p, nil
}

// committed fills in the znode versions once the plan's multi succeeded.
func (p *plan) committed(res []zk.MultiResponse) record {
	versions := map[string]int32{}
	for i, r := range res {
		switch p.ops[i].(type) {
		case *zk.CreateRequest:
			versions[p.opPaths[i]] = 0
		case *zk.SetDataRequest:
			if r.Stat != nil {
				versions[p.opPaths[i]] = r.Stat.Version
			}
		}
	}
	rec := p.record
	for i := range rec.Nodes {
		if v, ok := versions[rec.Nodes[i].Path]; ok {
			rec.Nodes[i].Version = v
		}
	}
	if rec.VersionNode != nil {
		if v, ok := versions[rec.VersionNode.Path]; ok {
			rec.VersionNode.Version = v
		}
	}
	return rec
}

func aclEqual(a, b []zk.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
