// Package aurora is the "aurora" completion handler: it restores an Aurora DB
// cluster snapshot (an empty schema, or one seeded with fixtures) into a stack,
// waits until the cluster and its instances are available, and deletes them
// when the stack goes down.
//
// A restore takes 30–45 minutes in AWS, so the handler stores a record as soon
// as the restore starts and reports progress while it waits; a run that was
// interrupted finds the cluster again (by its deterministic identifier and its
// tags) and resumes waiting instead of restoring twice.
//
// A step uses it like this; the production profile swaps in a bigger handler
// config, and "seeded" is looked up in the stack variable aurora_snapshots
// (a name missing there is taken as a snapshot identifier or ARN):
//
//	"variables": {"aurora_snapshots": {"seeded": "app-seeded-2024-11", "empty": "app-schema-only"}},
//	...
//	{"name": "db", "module": "modules/aws/aurora-network",
//	 "on_complete": [{"handler": "aurora", "snapshot": "seeded", "engine": "aurora-postgresql",
//	   "instance_class": "db.t4g.medium", "instances": 1,
//	   "subnet_group": "${outputs.subnet_group}", "security_groups": "${outputs.security_group_ids}",
//	   "parameter_group": "${outputs.cluster_parameter_group}"}],
//	 "profiles": {"production": {"on_complete": [{"handler": "aurora", "snapshot": "seeded",
//	   "engine": "aurora-postgresql", "instance_class": "db.r6g.2xlarge", "instances": 3, ...}]}}}
//
// Dependents read ${steps.db.outputs.endpoint}, reader_endpoint, port and
// cluster_id. The cluster is named by ClusterID(stack, step) unless
// "cluster_id" is set, and tagged stack:name, stack:step, stack:owner and
// stack:snapshot; the handler never adopts or deletes a cluster whose tags
// name another stack or step. Credentials and region come from the AWS SDK's
// default chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_RDS, ...), loaded
// only when a run or teardown needs them.
package aurora

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/stack-tools/stack/stack"
)

// Options tune the handler; the zero value suits real AWS.
type Options struct {
	// PollInterval is the first pause between status checks (default 15s); it
	// grows by half each time up to MaxPollInterval (default 1m).
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// Timeout bounds one wait for a restore or a deletion (default 3h).
	Timeout time.Duration
	// LoadConfig loads the AWS configuration (default: the SDK's default chain,
	// which honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL_RDS). It is
	// called only when a run or teardown needs AWS, so stacks without Aurora
	// need no credentials.
	LoadConfig func(ctx context.Context) (aws.Config, error)
}

// Handler restores Aurora snapshots into stacks.
type Handler struct{ opts Options }

// New returns the handler with opts' zero fields set to their defaults.
func New(opts Options) *Handler {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 15 * time.Second
	}
	if opts.MaxPollInterval < opts.PollInterval {
		opts.MaxPollInterval = max(time.Minute, opts.PollInterval)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Hour
	}
	if opts.LoadConfig == nil {
		opts.LoadConfig = func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }
	}
	return &Handler{opts: opts}
}

var (
	_ stack.Handler        = (*Handler)(nil)
	_ stack.HandlerOutputs = (*Handler)(nil)
)

// Validate checks the config before anything runs.
func (h *Handler) Validate(config json.RawMessage) error { return validateConfig(config) }

// OutputNames lists the outputs Run adds to the step.
func (h *Handler) OutputNames(json.RawMessage) []string {
	return []string{"endpoint", "reader_endpoint", "port", "cluster_id"}
}

// Variables names the aurora_snapshots variable when the config has no
// "snapshots" map of its own: the handler reads it, so the engine re-runs the
// step when it changes.
func (h *Handler) Variables(config json.RawMessage) []string {
	var c struct {
		Snapshots json.RawMessage `json:"snapshots"`
	}
	if json.Unmarshal(config, &c) == nil && c.Snapshots != nil {
		return nil
	}
	return []string{SnapshotsVariable}
}

// Record is what the handler stores with the step: enough to resume, to show
// progress from another machine and to tear down. Nothing in it is sensitive.
type Record struct {
	ClusterID string   `json:"cluster_id"`
	Region    string   `json:"region,omitempty"`
	Snapshot  string   `json:"snapshot,omitempty"`
	Instances []string `json:"instances,omitempty"`
	// Status is the last observed state, e.g. "cluster creating" or "available".
	Status        string    `json:"status"`
	Started       time.Time `json:"started,omitzero"`
	FinalSnapshot bool      `json:"final_snapshot,omitempty"`
}

func parseRecord(raw json.RawMessage) (Record, error) {
	var r Record
	if len(raw) == 0 || string(raw) == "null" {
		return r, nil
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("aurora: the stored handler record is unreadable (%v); run `stack rerun-step STACK STEP --replace` to start over", err)
	}
	return r, nil
}

// client builds an RDS client for region ("" = the environment's region).
func (h *Handler) client(ctx context.Context, region string) (*rds.Client, string, error) {
	cfg, err := h.opts.LoadConfig(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("aurora: load the AWS configuration: %w (check AWS_PROFILE and ~/.aws/config)", err)
	}
	if region != "" {
		cfg.Region = region
	}
	if cfg.Region == "" {
		return nil, "", fmt.Errorf("aurora: no AWS region: set AWS_REGION (or a region in your AWS profile) or \"region\" in the aurora handler's config")
	}
	return rds.NewFromConfig(cfg), cfg.Region, nil
}

// Run restores the snapshot (or adopts or resumes an earlier restore) and
// waits until the cluster and its instances are available.
func (h *Handler) Run(ctx context.Context, run *stack.HandlerRun) (stack.HandlerResult, error) {
	cfg, err := decodeConfig(run)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	snap, err := resolveSnapshot(run, cfg)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	prev, err := parseRecord(run.Previous)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	api, region, err := h.client(ctx, cfg.Region)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	s := &session{api: api, opts: h.opts, run: run}
	id := cfg.ClusterID
	if id == "" {
		id = ClusterID(run.Stack, run.Step)
	}

	// A previous run made a cluster under another identifier (cluster_id
	// changed): it is this step's, and would otherwise be left running.
	if prev.ClusterID != "" && prev.ClusterID != id && (prev.Region == "" || prev.Region == region) {
		if err := s.deleteCluster(ctx, prev.ClusterID, prev.Instances, false); err != nil {
			return stack.HandlerResult{}, fmt.Errorf("aurora: remove cluster %s made by an earlier run before restoring %s: %w", prev.ClusterID, id, err)
		}
	}

	rec := Record{ClusterID: id, Region: region, Status: "starting", FinalSnapshot: cfg.FinalSnapshot}
	cl, err := s.adoptable(ctx, id, snap)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	if cl != nil {
		rec.Snapshot = tagValue(cl.TagList, tagSnapshot)
		rec.Started = aws.ToTime(cl.ClusterCreateTime)
		if prev.ClusterID == id && !prev.Started.IsZero() {
			rec.Started = prev.Started
		}
		rec.Status = "cluster " + aws.ToString(cl.Status)
		run.Progress("adopting cluster %s (restored from %s, status %s)", id, snapshotName(rec.Snapshot), aws.ToString(cl.Status))
	} else {
		if err := s.restore(ctx, id, cfg, snap, &rec); err != nil {
			return stack.HandlerResult{}, err
		}
	}

	if err := s.waitCluster(ctx, &rec); err != nil {
		return stack.HandlerResult{}, err
	}
	if err := s.ensureInstances(ctx, cfg, &rec); err != nil {
		return stack.HandlerResult{}, err
	}
	cl, err = s.waitInstances(ctx, &rec)
	if err != nil {
		return stack.HandlerResult{}, err
	}
	rec.Status = "available"
	raw, _ := json.Marshal(rec)
	return stack.HandlerResult{
		Record: raw,
		Outputs: stack.Outputs{
			"endpoint":        {Value: aws.ToString(cl.Endpoint)},
			"reader_endpoint": {Value: aws.ToString(cl.ReaderEndpoint)},
			"port":            {Value: int(aws.ToInt32(cl.Port))},
			"cluster_id":      {Value: id},
		},
	}, nil
}

// Teardown deletes the instances and then the cluster named by record (or, if
// the run never stored one, the cluster this step would have made), skipping
// the final snapshot unless final_snapshot was set. Things already gone are fine.
func (h *Handler) Teardown(ctx context.Context, run *stack.HandlerRun, record json.RawMessage) error {
	rec, err := parseRecord(record)
	if err != nil {
		return err
	}
	lit := literalConfig(run.Config)
	if rec.ClusterID == "" {
		rec.ClusterID = lit.ClusterID
		if rec.ClusterID == "" {
			rec.ClusterID = ClusterID(run.Stack, run.Step)
		}
	}
	if rec.Region == "" {
		rec.Region = lit.Region
	}
	api, _, err := h.client(ctx, rec.Region)
	if err != nil {
		return err
	}
	s := &session{api: api, opts: h.opts, run: run}
	return s.deleteCluster(ctx, rec.ClusterID, rec.Instances, rec.FinalSnapshot || lit.FinalSnapshot)
}

// literalConfig decodes the fields of a config that are written as plain
// values, ignoring references, for teardown (where outputs may be gone).
func literalConfig(raw json.RawMessage) Config {
	var obj map[string]json.RawMessage
	var cfg Config
	if json.Unmarshal(raw, &obj) != nil {
		return cfg
	}
	for k, v := range obj {
		one, _ := json.Marshal(map[string]json.RawMessage{k: v})
		_ = json.Unmarshal(one, &cfg) // a reference in a non-string field is skipped
	}
	if !clusterIDRE.MatchString(cfg.ClusterID) {
		cfg.ClusterID = ""
	}
	if len(cfg.Region) > 0 && cfg.Region[0] == '$' {
		cfg.Region = ""
	}
	return cfg
}
