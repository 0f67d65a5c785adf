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

// txn is one multi-op transaction and the record it leaves once committed.
type txn struct {
	ops      []any
	opPaths  []string
	record   record
	changed  []string // published paths created, updated or removed
	warnings []string
}

// ErrOwnedByOther: a znode the stack wants to write exists and belongs to
// someone else.
var ErrOwnedByOther = errors.New("node owned by another stack")

// newTxn compares the tree with what the run wants and what the stack
// published before (prev), and returns the writes to make.
//
// Ownership rule: the stack changes or deletes only znodes its record lists as
// published or created by it. An existing znode it did not create is adopted
// (recorded, never written, never deleted) when it already holds exactly the
// value and ACL the stack would write; otherwise the run fails with
// ErrOwnedByOther.
func newTxn(t target, prev record, tree map[string]*znode) (txn, error) {
	p := newPlanner(t, prev, tree)
	if err := p.publish(); err != nil {
		return p.x, err
	}
	p.noticeRemoved()
	if err := p.bumpVersion(); err != nil {
		return p.x, err
	}
	p.createParents()
	p.removeLeftovers()
	return p.order(), nil
}

// planner works a transaction out phase by phase: publish the wanted
// values, move the version node, create missing parents, remove what is no
// longer wanted, and order the operations as ZooKeeper applies them.
type planner struct {
	t    target
	prev record
	tree map[string]*znode

	owned     map[string]bool // what prev says the stack made
	wasParent map[string]bool // what prev kept as an empty parent
	published map[string]bool // what prev published (not adopted)
	needed    map[string]bool // ancestors of what the stack wants
	wanted    map[string]bool // what the stack wants, version node included

	creates []*zk.CreateRequest
	sets    []*zk.SetDataRequest
	deletes []*zk.DeleteRequest

	created, deleted, keptParents map[string]bool
	x                             txn
}

func newPlanner(t target, prev record, tree map[string]*znode) *planner {
	p := &planner{t: t, prev: prev, tree: tree, owned: prev.owned(), wasParent: map[string]bool{}, published: map[string]bool{},
		needed: map[string]bool{}, wanted: map[string]bool{}, created: map[string]bool{}, deleted: map[string]bool{}, keptParents: map[string]bool{}}
	for _, pth := range prev.Parents {
		p.wasParent[pth] = true
	}
	p.x.record = record{Hosts: t.hosts, Root: t.root}
	return p
}

// publish creates or updates each wanted value, or adopts an identical one.
func (p *planner) publish() error {
	for _, pth := range slices.Sorted(maps.Keys(p.t.nodes)) {
		if err := p.publishNode(pth, p.t.nodes[pth]); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) publishNode(pth string, w wantNode) error {
	s := p.tree[pth]
	rn := recordNode{Path: pth, Sensitive: w.sensitive}
	if !w.sensitive {
		sum := sha256.Sum256(w.data)
		rn.SHA256 = hex.EncodeToString(sum[:])
	}
	acl := p.t.acl(w)
	switch {
	case !s.exists:
		p.creates = append(p.creates, &zk.CreateRequest{Path: pth, Data: w.data, Acl: acl})
		p.created[pth] = true
		p.x.changed = append(p.x.changed, pth)
	case p.owned[pth]:
		if s.noAuth {
			return authError(pth, nil)
		}
		rn.Version = s.stat.Version
		switch {
		case bytes.Equal(s.data, w.data) && aclEqual(s.acl, acl) && !p.t.rewrite:
			// Already current: no write, so watchers see no change.
		case aclEqual(s.acl, acl):
			p.sets = append(p.sets, &zk.SetDataRequest{Path: pth, Data: w.data, Version: s.stat.Version})
			p.x.changed = append(p.x.changed, pth)
		case s.stat.NumChildren > 0:
			return fmt.Errorf("cannot change whether %s is sensitive: its ACL can only be replaced by re-creating it, and it has children; remove them or publish the value at another path", pth)
		default:
			// Multi cannot set an ACL: delete and create in the same transaction.
			p.deletes = append(p.deletes, &zk.DeleteRequest{Path: pth, Version: s.stat.Version})
			p.creates = append(p.creates, &zk.CreateRequest{Path: pth, Data: w.data, Acl: acl})
			rn.Version = 0
			p.x.changed = append(p.x.changed, pth)
		}
	case !s.noAuth && bytes.Equal(s.data, w.data) && aclEqual(s.acl, acl):
		rn.Adopted = true
		rn.Version = s.stat.Version
	default:
		return ownedError(pth)
	}
	p.x.record.Nodes = append(p.x.record.Nodes, rn)
	return nil
}

// noticeRemoved counts values published before and no longer wanted as changes.
func (p *planner) noticeRemoved() {
	for _, n := range p.prev.Nodes {
		if n.Adopted {
			continue
		}
		p.published[n.Path] = true
		if _, still := p.t.nodes[n.Path]; !still && p.tree[n.Path].exists {
			p.x.changed = append(p.x.changed, n.Path)
		}
	}
}

// bumpVersion moves the version node when anything changed, so watchers
// reload; otherwise it keeps the record of it.
func (p *planner) bumpVersion() error {
	vp := p.t.versionPath
	switch {
	case vp != "" && len(p.x.changed) > 0:
		s := p.tree[vp]
		gen := int64(0)
		if p.prev.VersionNode != nil {
			gen = p.prev.VersionNode.Generation
		}
		if s.exists {
			if !p.owned[vp] {
				return fmt.Errorf("%w: version node %s exists and was not created by this stack; set \"version_node\" to a path of its own (two zookeeper handlers on one step need different ones)", ErrOwnedByOther, vp)
			}
			// The node holds the truth; a pending record's generation may never
			// have been written.
			if n, err := strconv.ParseInt(string(s.data), 10, 64); err == nil {
				gen = n
			}
		}
		gen++
		data := []byte(strconv.FormatInt(gen, 10))
		p.x.record.VersionNode = &recordVersion{Path: vp, Generation: gen}
		if s.exists {
			p.sets = append(p.sets, &zk.SetDataRequest{Path: vp, Data: data, Version: s.stat.Version})
		} else {
			p.creates = append(p.creates, &zk.CreateRequest{Path: vp, Data: data, Acl: worldACL})
			p.created[vp] = true
		}
	case vp != "" && p.prev.VersionNode != nil && p.prev.VersionNode.Path == vp && p.tree[vp].exists:
		v := *p.prev.VersionNode
		v.Version = p.tree[vp].stat.Version
		p.x.record.VersionNode = &v
	}
	return nil
}

// createParents adds the missing parents of everything created (ordered
// top-down later).
func (p *planner) createParents() {
	for pth := range p.t.nodes {
		p.wanted[pth] = true
		for _, a := range ancestors(pth) {
			p.needed[a] = true
		}
	}
	if v := p.x.record.VersionNode; v != nil {
		p.wanted[v.Path] = true
		for _, a := range ancestors(v.Path) {
			p.needed[a] = true
		}
	}
	for _, c := range append([]*zk.CreateRequest(nil), p.creates...) {
		for _, a := range ancestors(c.Path) {
			if !p.tree[a].exists && !p.created[a] {
				p.creates = append(p.creates, &zk.CreateRequest{Path: a, Acl: worldACL})
				p.created[a] = true
				p.keptParents[a] = true
			}
		}
	}
}

// removeLeftovers deletes, deepest first, what the stack owned and no longer
// wants. A node still needed as a parent, or holding children the stack did
// not create, stays as an empty parent.
func (p *planner) removeLeftovers() {
	var leftovers []string
	for pth := range p.owned {
		if !p.wanted[pth] && p.tree[pth].exists {
			leftovers = append(leftovers, pth)
		}
	}
	sort.Slice(leftovers, func(i, j int) bool {
		if depth(leftovers[i]) != depth(leftovers[j]) {
			return depth(leftovers[i]) > depth(leftovers[j])
		}
		return leftovers[i] < leftovers[j]
	})
	for _, pth := range leftovers {
		s := p.tree[pth]
		kids := p.childrenAfter(pth)
		if !p.needed[pth] && len(kids) == 0 {
			p.deletes = append(p.deletes, &zk.DeleteRequest{Path: pth, Version: s.stat.Version})
			p.deleted[pth] = true
			continue
		}
		if !p.needed[pth] {
			p.x.warnings = append(p.x.warnings, fmt.Sprintf("left %s in place: it has children this stack did not create (%s)", pth, strings.Join(kids, ", ")))
		}
		p.keptParents[pth] = true
		if p.published[pth] && (s.noAuth || len(s.data) > 0) {
			// The value is no longer produced: clear it, keep the node as a parent.
			p.sets = append(p.sets, &zk.SetDataRequest{Path: pth, Data: nil, Version: s.stat.Version})
		}
	}
	for pth := range p.owned {
		if p.wasParent[pth] && !p.wanted[pth] && !p.deleted[pth] && p.tree[pth].exists {
			p.keptParents[pth] = true
		}
	}
	p.x.record.Parents = slices.Sorted(maps.Keys(p.keptParents))
}

// childrenAfter lists the children pth will have once the transaction ran.
func (p *planner) childrenAfter(pth string) []string {
	var out []string
	for _, c := range p.tree[pth].children {
		if full := path.Join(pth, c); !p.deleted[full] {
			out = append(out, full)
		}
	}
	for c := range p.created {
		if path.Dir(c) == pth && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// order lays the operations out as ZooKeeper applies a multi's, in order:
// deletes (children first), then creates (parents first), then data changes.
func (p *planner) order() txn {
	sort.SliceStable(p.creates, func(i, j int) bool { return depth(p.creates[i].Path) < depth(p.creates[j].Path) })
	for _, d := range p.deletes {
		p.x.ops, p.x.opPaths = append(p.x.ops, d), append(p.x.opPaths, d.Path)
	}
	for _, c := range p.creates {
		p.x.ops, p.x.opPaths = append(p.x.ops, c), append(p.x.opPaths, c.Path)
	}
	for _, s := range p.sets {
		p.x.ops, p.x.opPaths = append(p.x.ops, s), append(p.x.opPaths, s.Path)
	}
	sort.Strings(p.x.changed)
	return p.x
}

// committed fills in the znode versions once the plan's multi succeeded.
func (p *txn) committed(res []zk.MultiResponse) record {
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
