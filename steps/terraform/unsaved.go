package terraform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stack-tools/stack/stack"
)

// A Terraform that could not save its state is never silently dropped (issue
// 20). Two things can be left behind in the step's working copy:
//
//   - errored.tfstate: Terraform could not write its state to the backend and
//     saved it here instead (the store was unreachable);
//   - the journal (unsaved.json): written before every apply and destroy with
//     the state it started from (lineage and serial), and extended with each
//     resource the apply created (address and id, from the -json stream). It
//     is removed when the command succeeds; a killed or failed command leaves
//     it.
//
// The next command on this workstation (recoverUnsaved) compares them with the
// state in the backend. An errored.tfstate the backend has not moved past is
// pushed. Otherwise the resources only that file knows are orphans: they are
// kept in a workspace of their own (STEP--unsaved-N, destroyed by `stack
// down`), and reported. Resources the journal saw created that no state
// knows (Terraform was killed before it saved them) are imported into the
// step's state before it is applied again, at the address they were created
// at, so the apply finds them instead of creating them a second time
// (adoptLost); those it cannot import, and all of them before a destroy
// (an imported resource holds only what its provider reads back, which a
// destroy-time provisioner may not find), are reported by id.

// erroredState is where Terraform leaves the state it could not save (the
// backend was unreachable), in the working copy of the module.
const erroredState = "errored.tfstate"

const (
	journalFile      = "unsaved.json"
	unsavedWorkspace = "--unsaved-"
)

// journal is what the working copy remembers about a state-changing command
// until it has succeeded.
type journal struct {
	Workspace string         `json:"workspace"`
	Command   string         `json:"command"`
	Started   time.Time      `json:"started"`
	Base      stateMark      `json:"base"`
	Created   []stack.Orphan `json:"created,omitempty"`
}

// stateMark identifies a version of a state.
type stateMark struct {
	Missing bool   `json:"missing,omitempty"`
	Lineage string `json:"lineage,omitempty"`
	Serial  uint64 `json:"serial"`
}

// tfState is the part of a Terraform state (format 4) read here.
type tfState struct {
	Lineage   string       `json:"lineage"`
	Serial    uint64       `json:"serial"`
	Resources []tfResource `json:"resources"`
	missing   bool
}

type tfResource struct {
	Module    string `json:"module"`
	Mode      string `json:"mode"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Instances []struct {
		IndexKey   any            `json:"index_key"`
		Attributes map[string]any `json:"attributes"`
	} `json:"instances"`
}

func (st *tfState) mark() stateMark {
	return stateMark{Missing: st.missing, Lineage: st.Lineage, Serial: st.Serial}
}

// instances lists the managed resource instances with an id, by id.
func (st *tfState) instances() map[string]stack.Orphan {
	out := map[string]stack.Orphan{}
	for _, r := range st.Resources {
		if r.Mode == "data" {
			continue
		}
		for _, in := range r.Instances {
			if id, ok := in.Attributes["id"].(string); ok && id != "" {
				out[id] = stack.Orphan{ID: id, Address: address(r, in.IndexKey)}
			}
		}
	}
	return out
}

// address is a resource instance's address as Terraform prints it.
func address(r tfResource, key any) string {
	a := r.Type + "." + r.Name
	if r.Module != "" {
		a = r.Module + "." + a
	}
	switch k := key.(type) {
	case float64:
		a += fmt.Sprintf("[%d]", int64(k))
	case string:
		a += fmt.Sprintf("[%q]", k)
	}
	return a
}

func parseState(data []byte) (*tfState, error) {
	var st tfState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// remoteState reads the step's state from the backend.
func (s *session) remoteState(ctx context.Context) (*tfState, error) {
	if c := s.created; c != nil && c.known != nil {
		st := c.known
		c.known = nil
		return st, nil
	}
	if s.backend.State == nil {
		return nil, errors.New("this store cannot read Terraform state directly")
	}
	data, err := s.backend.State(ctx, workspace(s.run))
	if errors.Is(err, stack.ErrNotFound) {
		return &tfState{missing: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseState(data)
}

func (s *session) journalPath() string { return filepath.Join(s.run.WorkDir, journalFile) }

// beginJournal records the state a command starts from. A store whose state
// cannot be read directly gets no journal (only errored.tfstate is checked).
func (s *session) beginJournal(ctx context.Context, cmd string) *journal {
	base, err := s.remoteState(ctx)
	if err != nil {
		return nil
	}
	j := &journal{Workspace: workspace(s.run), Command: cmd, Started: time.Now().UTC(), Base: base.mark()}
	_ = j.write(s.journalPath())
	return j
}

// noteCreated notes a resource the command created; it is written at once, so
// a kill a moment later still leaves its id.
func (s *session) noteCreated(j *journal, addr, id string) {
	if j == nil || id == "" {
		return
	}
	j.Created = append(j.Created, stack.Orphan{ID: id, Address: addr, Step: s.run.Step})
	_ = j.write(s.journalPath())
}

// endJournal forgets the journal once the command succeeded: its state is saved.
func (s *session) endJournal(err error) {
	if err == nil {
		_ = os.Remove(s.journalPath())
	}
}

func (j *journal) write(path string) error {
	b, _ := json.Marshal(j)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJournal(path string) *journal {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var j journal
	if json.Unmarshal(b, &j) != nil {
		return nil
	}
	return &j
}

// recoverUnsaved deals with what an earlier command on this workstation could
// not save (see the top of this file), before the step runs again; adopt says
// an apply follows, which may take in what no state knows (adoptLost).
func (s *session) recoverUnsaved(ctx context.Context, adopt bool) error {
	j := readJournal(s.journalPath())
	ePath := filepath.Join(s.srcDir, erroredState)
	eData, eErr := os.ReadFile(ePath)
	if j == nil && eErr != nil {
		return nil
	}
	remote, err := s.remoteState(ctx)
	if err != nil && eErr == nil {
		return s.pushErrored(ctx, ePath) // the backend alone can judge: it refuses an older state
	}
	if err != nil {
		return fmt.Errorf("reading the state of step %s to check what an interrupted run left: %w; run the command again when the store is reachable", s.run.Step, err)
	}
	known := remote.instances()
	var orphans []stack.Orphan
	if eErr == nil {
		kept, err := s.settleErrored(ctx, ePath, eData, remote)
		if err != nil {
			return err
		}
		for _, o := range kept {
			known[o.ID] = o
		}
		orphans = append(orphans, kept...)
	}
	if j != nil {
		lost := unknown(j.Created, known)
		if adopt {
			if lost, err = s.adoptLost(ctx, lost, known); err != nil {
				return err
			}
		}
		orphans = append(orphans, lost...)
	}
	s.reportOrphans(orphans)
	_ = os.Remove(s.journalPath())
	return nil
}

// adoptLost imports into the step's state each resource an interrupted
// command created and did not save, at the address it was created at,
// unless the state holds that address already (a replacement the command
// did not finish: that one stays an orphan). It returns those it left.
func (s *session) adoptLost(ctx context.Context, lost []stack.Orphan, known map[string]stack.Orphan) ([]stack.Orphan, error) {
	if len(lost) == 0 {
		return nil, nil
	}
	taken := map[string]bool{}
	for _, o := range known {
		taken[o.Address] = true
	}
	secrets, err := s.secrets()
	if err != nil {
		return nil, err
	}
	defer secrets.close()
	var opts []tfexec.ImportOption
	if f := secrets.varFile(); f != "" {
		opts = append(opts, tfexec.VarFile(f))
	}
	var left []stack.Orphan
	for _, o := range lost {
		if taken[o.Address] {
			left = append(left, o)
			continue
		}
		s.run.Progress("importing %s (id %s), which an interrupted run created and did not save", o.Address, o.ID)
		if err := s.retryLocked(ctx, func() error { return s.tf.Import(ctx, o.Address, o.ID, opts...) }); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fmt.Fprintf(s.run.Log, "# importing %s (id %s): %v\n", o.Address, o.ID, err)
			left = append(left, o)
			continue
		}
		taken[o.Address] = true
		fmt.Fprintf(s.run.Log, "# adopted %s (id %s): an interrupted run created it and did not save it; the apply takes it from here\n", o.Address, o.ID)
	}
	return left, nil
}

// unknown returns the created resources no state knows.
func unknown(created []stack.Orphan, known map[string]stack.Orphan) []stack.Orphan {
	var out []stack.Orphan
	for _, c := range created {
		if _, ok := known[c.ID]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// settleErrored pushes errored.tfstate if the backend's state has not moved
// past it; otherwise it keeps the resources only that file knows in a
// workspace of their own and returns them.
func (s *session) settleErrored(ctx context.Context, path string, data []byte, remote *tfState) ([]stack.Orphan, error) {
	e, err := parseState(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s, the state an earlier run could not save: %w; move it away once you have checked it", path, err)
	}
	if remote.missing || remote.Lineage == e.Lineage && remote.Serial < e.Serial {
		return nil, s.pushErrored(ctx, path)
	}
	known := remote.instances()
	var only []stack.Orphan
	for id, o := range e.instances() {
		if _, ok := known[id]; !ok {
			o.Step = s.run.Step
			only = append(only, o)
		}
	}
	sort.Slice(only, func(i, k int) bool { return only[i].ID < only[k].ID })
	if len(only) == 0 {
		return nil, os.Remove(path) // the backend has all it knew
	}
	ws, err := s.keepUnsaved(ctx, data, only)
	if err != nil {
		return nil, err
	}
	for i := range only {
		only[i].Kept = "Terraform workspace " + ws
	}
	return only, os.Remove(path)
}

func (s *session) pushErrored(ctx context.Context, p string) error {
	s.run.Progress("saving the state an interrupted apply left in %s", p)
	if err := s.retryLocked(ctx, func() error { return s.tf.StatePush(ctx, p) }); err != nil {
		return fmt.Errorf("pushing %s (the state an earlier apply could not save) to the backend: %w; run the command again when the backend is reachable", p, err)
	}
	return os.Remove(p)
}

// keepUnsaved stores the resources only an errored state knows as the state
// of a new workspace, STEP--unsaved-N, so they stay destroyable.
func (s *session) keepUnsaved(ctx context.Context, data []byte, only []stack.Orphan) (string, error) {
	sub, err := subsetState(data, only)
	if err != nil {
		return "", err
	}
	ws := workspace(s.run) + unsavedWorkspace + newSuffix()
	file := filepath.Join(s.run.WorkDir, ws+".tfstate")
	if err := os.WriteFile(file, sub, 0o600); err != nil {
		return "", err
	}
	defer os.Remove(file)
	if err := s.tf.WorkspaceNew(ctx, ws); err != nil {
		return "", fmt.Errorf("creating workspace %s for resources no other state knows: %w", ws, err)
	}
	perr := s.tf.StatePush(ctx, file)
	if err := s.tf.WorkspaceSelect(ctx, workspace(s.run)); err != nil {
		return "", err
	}
	if perr != nil {
		return "", fmt.Errorf("saving resources no other state knows in workspace %s: %w", ws, perr)
	}
	return ws, nil
}

// subsetState is the state data restricted to the instances in keep, as a
// new state (lineage and serial of its own).
func subsetState(data []byte, keep []stack.Orphan) ([]byte, error) {
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, o := range keep {
		ids[o.ID] = true
	}
	var resources []any
	for _, r := range asSlice(st["resources"]) {
		rm, _ := r.(map[string]any)
		if rm == nil || rm["mode"] == "data" {
			continue
		}
		var inst []any
		for _, in := range asSlice(rm["instances"]) {
			attrs, _ := in.(map[string]any)["attributes"].(map[string]any)
			if id, _ := attrs["id"].(string); ids[id] {
				inst = append(inst, in)
			}
		}
		if len(inst) > 0 {
			rm["instances"] = inst
			resources = append(resources, rm)
		}
	}
	st["resources"], st["outputs"] = resources, map[string]any{}
	st["lineage"], st["serial"] = newLineage(), 1
	return json.MarshalIndent(st, "", "  ")
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func newSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newLineage() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// reportOrphans tells the engine and the log about resources no step state
// knows.
func (s *session) reportOrphans(orphans []stack.Orphan) {
	if len(orphans) == 0 {
		return
	}
	var lines []string
	for _, o := range orphans {
		lines = append(lines, fmt.Sprintf("%s (id %s): %s", o.Address, o.ID, o.Where()))
	}
	msg := fmt.Sprintf("an interrupted run left %d resource(s) the step's state does not know: %s", len(orphans), strings.Join(lines, "; "))
	s.run.Progress("%s", msg)
	fmt.Fprintf(s.run.Log, "# %s\n", msg)
	if s.run.Orphans != nil {
		s.run.Orphans(orphans)
	}
}

// destroyUnsaved destroys the workspaces keepUnsaved made for this step and
// deletes them; destroy runs `terraform destroy` in the selected workspace.
func (s *session) destroyUnsaved(ctx context.Context, destroy func() error) error {
	all, _, err := s.tf.WorkspaceList(ctx)
	if err != nil {
		return fmt.Errorf("listing workspaces to find resources an interrupted run left: %w", err)
	}
	step := workspace(s.run)
	for _, ws := range all {
		if !strings.HasPrefix(ws, step+unsavedWorkspace) {
			continue
		}
		s.run.Progress("destroying the resources an interrupted run left in workspace %s", ws)
		if err := s.tf.WorkspaceSelect(ctx, ws); err != nil {
			return err
		}
		derr := destroy()
		if err := s.tf.WorkspaceSelect(ctx, step); err != nil {
			return err
		}
		if derr != nil {
			return fmt.Errorf("destroying the resources kept in workspace %s: %w", ws, derr)
		}
		if err := s.tf.WorkspaceDelete(ctx, ws, tfexec.Force(true)); err != nil {
			return fmt.Errorf("deleting workspace %s: %w", ws, err)
		}
	}
	return nil
}

// Pending reports whether a step's working copy holds what an interrupted
// run could not save (stack.Recoverer).
func (k *Kind) Pending(workDir string) bool {
	for _, p := range []string{filepath.Join(workDir, journalFile), filepath.Join(workDir, "module", erroredState)} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// Recover settles what Pending found, for a step that is not applied again.
func (k *Kind) Recover(ctx context.Context, run *stack.StepRun) error {
	s, err := k.prepare(ctx, run)
	if err != nil {
		return err
	}
	if _, err := s.selectWorkspace(ctx, true); err != nil {
		return err
	}
	return s.recoverUnsaved(ctx, false)
}

// knownState is the state a workspace holds just after its creation: stored,
// or none where the backend writes no state before the first apply.
func knownState(stored []byte) *tfState {
	if stored == nil {
		return &tfState{missing: true}
	}
	st, err := parseState(stored)
	if err != nil {
		return nil
	}
	return st
}
