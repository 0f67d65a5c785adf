package aurora

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// SnapshotsVariable is the stack variable that maps snapshot names used in
// configs ("seeded", "empty") to snapshot identifiers or ARNs, unless the
// handler's config sets "snapshots" itself.
const SnapshotsVariable = "aurora_snapshots"

// maxInstances is Aurora's limit: one writer and fifteen readers.
const maxInstances = 16

// Config is the aurora handler's on_complete object without "handler".
type Config struct {
	// Snapshot names the snapshot to restore: a key of Snapshots (or of the
	// aurora_snapshots variable), else a DB cluster snapshot identifier or ARN.
	Snapshot string `json:"snapshot"`
	// Snapshots maps names to identifiers; default: the aurora_snapshots variable.
	Snapshots map[string]string `json:"snapshots,omitempty"`
	// Engine is aurora-mysql or aurora-postgresql and must match the snapshot.
	Engine string `json:"engine"`
	// EngineVersion defaults to the snapshot's version.
	EngineVersion string `json:"engine_version,omitempty"`
	// InstanceClass is the class of every instance, e.g. db.r6g.large.
	InstanceClass string `json:"instance_class"`
	// Instances is how many instances to run: 1 is a writer only, N adds N-1 readers.
	Instances int `json:"instances,omitempty"`
	// SubnetGroup, SecurityGroups and ParameterGroup usually come from the
	// step's Terraform outputs (${outputs.X}).
	SubnetGroup    string   `json:"subnet_group,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	ParameterGroup string   `json:"parameter_group,omitempty"`
	// FinalSnapshot keeps a snapshot of the clone when it is torn down.
	FinalSnapshot bool `json:"final_snapshot,omitempty"`
	// ClusterID overrides the identifier derived from the stack and step names.
	ClusterID string `json:"cluster_id,omitempty"`
	// Region overrides the AWS region of the environment.
	Region string `json:"region,omitempty"`
}

var (
	engines     = []string{"aurora-mysql", "aurora-postgresql"}
	clusterIDRE = regexp.MustCompile(`^[a-zA-Z](?:[a-zA-Z0-9]|-[a-zA-Z0-9]){0,57}$`)
)

// validateConfig checks a config before references are resolved: fields whose
// value is a reference are checked for presence only.
func validateConfig(raw json.RawMessage) error {
	var obj map[string]json.RawMessage
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("aurora: the handler config must be a JSON object: %w", err)
	}
	literal := map[string]json.RawMessage{}
	refs := map[string]bool{}
	for k, v := range obj {
		var s string
		if json.Unmarshal(v, &s) == nil && strings.Contains(s, "${") {
			refs[k] = true
			continue
		}
		literal[k] = v
	}
	b, _ := json.Marshal(literal)
	var cfg Config
	if err := stack.DecodeStrict(b, &cfg); err != nil {
		return fmt.Errorf("aurora: %s", fieldMessage(err))
	}
	return cfg.check(refs)
}

// fieldMessage turns a JSON decoding error into one that names the field.
func fieldMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list of strings"
		case strings.HasPrefix(want, "map["):
			want = "an object of name to snapshot identifier"
		case want == "int":
			want = "a whole number"
		case want == "bool":
			want = "true or false"
		case want == "string":
			want = "a string"
		}
		return fmt.Sprintf("%q must be %s, not a JSON %s", te.Field, want, te.Value)
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		return msg[i:] + "; allowed: " + strings.Join(configFields(), ", ")
	}
	return msg
}

func configFields() []string {
	return []string{"snapshot", "snapshots", "engine", "engine_version", "instance_class", "instances",
		"subnet_group", "security_groups", "parameter_group", "final_snapshot", "cluster_id", "region"}
}

// check validates values; fields named in refs hold unresolved references.
func (c *Config) check(refs map[string]bool) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Snapshot == "" && !refs["snapshot"] {
		add(`missing "snapshot": name the snapshot to restore, e.g. "seeded" (a key of the %s variable) or a snapshot identifier or ARN`, SnapshotsVariable)
	}
	switch {
	case c.Engine == "" && !refs["engine"]:
		add(`missing "engine": set "aurora-mysql" or "aurora-postgresql", the engine of the snapshot`)
	case c.Engine != "" && !slices.Contains(engines, c.Engine):
		add(`"engine" is %q: use "aurora-mysql" or "aurora-postgresql"`, c.Engine)
	}
	switch {
	case c.InstanceClass == "" && !refs["instance_class"]:
		add(`missing "instance_class": set a DB instance class such as "db.t4g.medium" or "db.r6g.large"`)
	case c.InstanceClass != "" && !strings.HasPrefix(c.InstanceClass, "db."):
		add(`"instance_class" is %q: DB instance classes start with "db.", e.g. "db.r6g.large"`, c.InstanceClass)
	}
	if c.Instances < 0 || c.Instances > maxInstances {
		add(`"instances" is %d: use 1 (a writer) to %d (a writer and %d readers)`, c.Instances, maxInstances, maxInstances-1)
	}
	if c.ClusterID != "" && !clusterIDRE.MatchString(c.ClusterID) {
		add(`"cluster_id" is %q: use 1 to 58 letters, digits and single hyphens, starting with a letter and not ending with a hyphen`, c.ClusterID)
	}
	for i, sg := range c.SecurityGroups {
		if sg == "" {
			add(`"security_groups"[%d] is empty: list security group IDs such as "sg-0123456789abcdef0"`, i)
		}
	}
	for name, id := range c.Snapshots {
		if id == "" {
			add(`"snapshots".%s is empty: map the name to a snapshot identifier or ARN`, name)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("aurora: %s", strings.Join(problems, "; "))
	}
	return nil
}

// decodeConfig resolves the references in the run's config and checks the result.
func decodeConfig(run *stack.HandlerRun) (Config, error) {
	var cfg Config
	if err := run.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("aurora: %s", fieldMessage(err))
	}
	if err := cfg.check(nil); err != nil {
		return cfg, err
	}
	if cfg.Instances == 0 {
		cfg.Instances = 1
	}
	return cfg, nil
}

// snapshotChoice is the snapshot a config asks for and how it was found.
type snapshotChoice struct {
	ID    string   // identifier or ARN passed to RDS
	Name  string   // as written in the config
	Known []string // names the map offers, for messages
	From  string   // where the map came from, for messages
}

func (s snapshotChoice) String() string {
	if s.Name != s.ID {
		return fmt.Sprintf("%q (%s in %s)", s.ID, s.Name, s.From)
	}
	return fmt.Sprintf("%q", s.ID)
}

// resolveSnapshot maps the config's snapshot name through "snapshots" or the
// aurora_snapshots variable; a name in neither is used as an identifier.
func resolveSnapshot(run *stack.HandlerRun, cfg Config) (snapshotChoice, error) {
	choice := snapshotChoice{ID: cfg.Snapshot, Name: cfg.Snapshot, From: `"snapshots"`}
	names := cfg.Snapshots
	if names == nil {
		choice.From = "variable " + SnapshotsVariable
		v, _, err := run.Resolve("${var." + SnapshotsVariable + "}")
		if err == nil {
			m, ok := v.(map[string]any)
			if !ok {
				return choice, fmt.Errorf("aurora: variable %s must be an object mapping snapshot names to identifiers, like {\"seeded\": \"my-seeded-snapshot\"}", SnapshotsVariable)
			}
			names = map[string]string{}
			for k, id := range m {
				s, ok := id.(string)
				if !ok || s == "" {
					return choice, fmt.Errorf("aurora: variable %s: %q must map to a snapshot identifier or ARN (a non-empty string)", SnapshotsVariable, k)
				}
				names[k] = s
			}
		}
	}
	for k := range names {
		choice.Known = append(choice.Known, k)
	}
	sort.Strings(choice.Known)
	if id, ok := names[cfg.Snapshot]; ok {
		choice.ID = id
	}
	return choice, nil
}
