package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/state"
)

// A bench stack looks like a small real one: three Terraform steps, a
// definition of about 1.5 KB, outputs and phase timings in the record, a log
// per step and a module snapshot beside it. One in ten is being changed by a
// command on another host (its lease held, its record running); one in three
// has expired; owners and profiles vary so the list filters have something
// to choose from.

func stackName(i int) string { return fmt.Sprintf("bench-%04d", i) }

var owners = []string{"alice@laptop", "bob@desk", "carol@laptop", "ci@runner-7", "dave@desk"}

// seed writes stacks from..to-1 straight into the store, 32 at a time.
func seed(ctx context.Context, st stack.Store, from, to int) error {
	start := time.Now()
	errs := make(chan error, to-from)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := seedStack(ctx, st, i); err != nil {
				errs <- fmt.Errorf("seeding %s: %w", stackName(i), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if to > from {
		fmt.Printf("(seeded stacks %d..%d in %s)\n", from, to-1, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func seedStack(ctx context.Context, st stack.Store, i int) error {
	name := stackName(i)
	rec := benchRecord(name, i)
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	objects := map[string][]byte{state.RecordKey(name): data, state.ModuleKey(name, "0f3a9c"): make([]byte, 2048)}
	for step := range rec.Steps {
		objects[state.LogKey(name, step)] = []byte("terraform apply -json ...\n")
	}
	if locked(i) {
		l := state.Lease{ID: "bench", User: "ci", Host: "runner-7", PID: 4242, Command: "up",
			Started: time.Now().UTC(), Expires: time.Now().Add(24 * time.Hour).UTC()}
		objects[state.LeaseKey(name)], _ = json.Marshal(l)
	}
	for k, v := range objects {
		if _, err := st.Put(ctx, k, v, stack.AnyVersion); err != nil {
			return err
		}
	}
	return nil
}

// locked says whether stack i is being changed by a command now: its lease is
// held and, as every command that holds it does, its record says so.
func locked(i int) bool { return i%10 == 3 }

func benchRecord(name string, i int) *state.Record {
	now := time.Now().UTC()
	created := now.Add(-time.Duration(i%72) * time.Hour)
	profile := []string{"minimal", "production"}[i%2]
	def := fmt.Sprintf(`{"name":%q,"ttl":"8h","steps":[`+
		`{"name":"network","module":"../modules/aws/network","vars":{"cidr":"10.%d.0.0/16","name":"${stack.name}"},"profiles":{"production":{"vars":{"azs":3}}}},`+
		`{"name":"database","module":"../modules/aws/aurora","vars":{"subnets":"${steps.network.outputs.private_subnets}","instance_class":"db.r6g.large","name":"${stack.name}"},"on_complete":[{"handler":"aurora-restore","snapshot":"seeded-2026-11"}]},`+
		`{"name":"service","module":"../modules/aws/service","vars":{"db_host":"${steps.database.outputs.endpoint}","image":"registry.example.com/sms-inbound:1.42.0","replicas":3,"subnets":"${steps.network.outputs.private_subnets}"}}]}`, name, i%250)
	rec := &state.Record{Name: name, Definition: json.RawMessage(def), Source: "/home/alice/src/stacks/sms.json", Dir: "/home/alice/src/stacks",
		Profile: profile, CreatedBy: owners[i%len(owners)], CreatedAt: created, UpdatedAt: created.Add(10 * time.Minute),
		UpdatedBy: owners[i%len(owners)], Status: state.StatusApplied, Command: "up", TTL: "8h", Steps: map[string]*state.StepState{}}
	expires := now.Add(4 * time.Hour)
	if i%3 == 0 {
		expires = now.Add(-time.Hour)
	}
	rec.ExpiresAt = &expires
	for _, step := range []string{"network", "database", "service"} {
		start := created.Add(time.Minute)
		rec.Steps[step] = &state.StepState{Status: state.StatusApplied, Kind: "terraform", Fingerprint: "sha256:5be1d0c3a9e8f7b6", ModuleDigest: "0f3a9c",
			Outputs:   stack.Outputs{"id": {Value: name + "-" + step}, "endpoint": {Value: step + "." + name + ".internal.example.com"}},
			StartedAt: &start, FinishedAt: &start, Seconds: 42.5, Applies: 1, RunBy: rec.CreatedBy, CostPerHour: 0.12, CostSince: &start,
			Log:    "s3://bucket/bench/stacks/" + name + "/logs/" + step + ".log",
			Phases: []state.Phase{{Name: "init", Seconds: 3.1}, {Name: "apply", Seconds: 38.2}, {Name: "outputs", Seconds: 0.4}}}
	}
	if locked(i) {
		rec.Status, rec.UpdatedAt = state.StatusRunning, now.Add(-time.Minute)
		rec.Steps["service"].Status = state.StatusRunning
	}
	return rec
}
