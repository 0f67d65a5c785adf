package aurora

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/stack-tools/stack/stack"
)

// Statuses after which waiting is pointless: the resource needs a human.
var failedStatuses = []string{"failed", "incompatible-restore", "incompatible-parameters",
	"incompatible-network", "inaccessible-encryption-credentials", "storage-full", "restore-error"}

// session is one Run or Teardown talking to RDS.
type session struct {
	api  *rds.Client
	opts Options
	run  *stack.HandlerRun
}

func (s *session) progress(format string, args ...any) {
	if s.run.Progress != nil {
		s.run.Progress(format, args...)
	}
}

// update stores rec as the handler's intermediate record.
func (s *session) update(rec *Record) error {
	if s.run.Update == nil {
		return nil
	}
	raw, _ := json.Marshal(rec)
	if err := s.run.Update(raw); err != nil {
		return fmt.Errorf("aurora: store progress of cluster %s: %w", rec.ClusterID, err)
	}
	return nil
}

// describeCluster returns the cluster, or nil when it does not exist.
func (s *session) describeCluster(ctx context.Context, id string) (*types.DBCluster, error) {
	out, err := s.api.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if isClusterNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, explain(err, "DescribeDBClusters", id)
	}
	if len(out.DBClusters) == 0 {
		return nil, nil
	}
	return &out.DBClusters[0], nil
}

// clusterInstances lists the instances that belong to cluster id.
func (s *session) clusterInstances(ctx context.Context, id string) ([]types.DBInstance, error) {
	var all []types.DBInstance
	p := rds.NewDescribeDBInstancesPaginator(s.api, &rds.DescribeDBInstancesInput{
		Filters: []types.Filter{{Name: aws.String("db-cluster-id"), Values: []string{id}}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, explain(err, "DescribeDBInstances", "of cluster "+id)
		}
		all = append(all, out.DBInstances...)
	}
	return all, nil
}

// checkOwner refuses to touch a cluster another stack or step made.
func (s *session) checkOwner(cl *types.DBCluster) error {
	id := aws.ToString(cl.DBClusterIdentifier)
	st, step := tagValue(cl.TagList, tagStack), tagValue(cl.TagList, tagStep)
	if st == s.run.Stack && step == s.run.Step {
		return nil
	}
	owner := "no stack (it has no stack:name tag)"
	if st != "" {
		owner = fmt.Sprintf("stack %q, step %q", st, step)
	}
	return fmt.Errorf("aurora: DB cluster %s already exists and belongs to %s, not to stack %q step %q; leave it alone and set \"cluster_id\" in the aurora handler's config to a free identifier",
		id, owner, s.run.Stack, s.run.Step)
}

// adoptable returns the existing cluster id when this run should adopt it, or
// nil when a restore is needed (no cluster, or one that was just removed
// because the run replaces it or it was being deleted).
func (s *session) adoptable(ctx context.Context, id string, snap snapshotChoice) (*types.DBCluster, error) {
	cl, err := s.describeCluster(ctx, id)
	if err != nil || cl == nil {
		return nil, err
	}
	if err := s.checkOwner(cl); err != nil {
		return nil, err
	}
	switch {
	case aws.ToString(cl.Status) == "deleting":
		s.progress("cluster %s is being deleted; waiting before restoring it again", id)
		return nil, s.waitClusterGone(ctx, id, time.Now())
	case s.run.Replace:
		s.progress("replacing cluster %s", id)
		return nil, s.deleteCluster(ctx, id, nil, false)
	}
	recorded := tagValue(cl.TagList, tagSnapshot)
	if !sameSnapshot(recorded, snap.ID) {
		return nil, fmt.Errorf("aurora: DB cluster %s was restored from snapshot %q, but the config now asks for snapshot %s; to replace the cluster (its data is lost) run `stack rerun-step %s %s --replace`, or set \"snapshot\" back",
			id, snapshotName(recorded), snap, s.run.Stack, s.run.Step)
	}
	return cl, nil
}

// restore checks the snapshot and starts restoring it into cluster id.
func (s *session) restore(ctx context.Context, id string, cfg Config, snap snapshotChoice, rec *Record) error {
	out, err := s.api.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{
		DBClusterSnapshotIdentifier: aws.String(snap.ID),
		// An ARN may name a snapshot another account shares with this one.
		IncludeShared: aws.Bool(strings.HasPrefix(snap.ID, "arn:")),
	})
	if err != nil && !isSnapshotNotFound(err) {
		return fmt.Errorf("aurora: %w", explain(err, "DescribeDBClusterSnapshots", snap.ID))
	}
	if err != nil || len(out.DBClusterSnapshots) == 0 {
		return s.snapshotNotFound(snap, rec.Region, err)
	}
	sn := out.DBClusterSnapshots[0]
	if st := aws.ToString(sn.Status); st != "available" {
		return fmt.Errorf("aurora: snapshot %s is %q, not available yet; wait until `aws rds describe-db-cluster-snapshots --db-cluster-snapshot-identifier %s` shows \"available\", then run `stack up` again",
			snap, st, snap.ID)
	}
	if eng := aws.ToString(sn.Engine); eng != "" && eng != cfg.Engine {
		return fmt.Errorf("aurora: snapshot %s holds an %s database (version %s) but the aurora handler's \"engine\" is %q; set \"engine\": %q or choose a snapshot of an %s cluster",
			snap, eng, aws.ToString(sn.EngineVersion), cfg.Engine, eng, cfg.Engine)
	}
	rec.Snapshot = aws.ToString(sn.DBClusterSnapshotArn)
	if rec.Snapshot == "" {
		rec.Snapshot = snap.ID
	}
	in := &rds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier: aws.String(id),
		SnapshotIdentifier:  aws.String(snap.ID),
		Engine:              aws.String(cfg.Engine),
		DeletionProtection:  aws.Bool(false),
		Tags:                tags(s.run.Stack, s.run.Step, s.run.Owner, rec.Snapshot),
	}
	if cfg.EngineVersion != "" {
		in.EngineVersion = aws.String(cfg.EngineVersion)
	}
	if cfg.SubnetGroup != "" {
		in.DBSubnetGroupName = aws.String(cfg.SubnetGroup)
	}
	if len(cfg.SecurityGroups) > 0 {
		in.VpcSecurityGroupIds = cfg.SecurityGroups
	}
	if cfg.ParameterGroup != "" {
		in.DBClusterParameterGroupName = aws.String(cfg.ParameterGroup)
	}
	rec.Started = time.Now().UTC()
	res, err := s.api.RestoreDBClusterFromSnapshot(ctx, in)
	if isCode(err, "DBClusterAlreadyExistsFault") {
		return fmt.Errorf("aurora: DB cluster %s appeared while this run was starting its restore (another run of stack %s?); run `stack up` again to adopt it: %w", id, s.run.Stack, err)
	}
	if err != nil {
		return fmt.Errorf("aurora: restore snapshot %s into cluster %s: %w", snap, id, explain(err, "RestoreDBClusterFromSnapshot", id))
	}
	rec.Status = "cluster " + aws.ToString(res.DBCluster.Status)
	s.progress("restoring cluster %s from snapshot %s", id, snapshotName(rec.Snapshot))
	return s.update(rec)
}

func (s *session) snapshotNotFound(snap snapshotChoice, region string, err error) error {
	hint := fmt.Sprintf("check the name with `aws rds describe-db-cluster-snapshots --region %s`", region)
	if snap.Name == snap.ID {
		if len(snap.Known) > 0 {
			hint = fmt.Sprintf("%q is not a name in %s either (it has: %s); use one of those names or an existing snapshot identifier or ARN", snap.Name, snap.From, strings.Join(snap.Known, ", "))
		} else {
			hint += fmt.Sprintf(", or map names like \"seeded\" to snapshot identifiers in the stack variable %s", SnapshotsVariable)
		}
	} else {
		hint = fmt.Sprintf("fix %q in %s; %s", snap.Name, snap.From, hint)
	}
	msg := fmt.Sprintf("aurora: DB cluster snapshot %s not found in region %s (it must be an Aurora cluster snapshot in this account or shared with it); %s", snap, region, hint)
	if err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return fmt.Errorf("%s", msg)
}

// poll calls check until it reports done, pausing with backoff between calls.
func (s *session) poll(ctx context.Context, what string, check func() (bool, error)) error {
	interval := s.opts.PollInterval
	deadline := time.Now().Add(s.opts.Timeout)
	for {
		done, err := check()
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("aurora: stopped waiting for %s: %w; run `stack up` again to resume waiting", what, ctx.Err())
		}
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("aurora: gave up waiting for %s after %s; it may still finish: run `stack up` again to resume waiting", what, s.opts.Timeout)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("aurora: stopped waiting for %s: %w; run `stack up` again to resume waiting", what, ctx.Err())
		case <-t.C:
		}
		interval = min(interval*3/2, s.opts.MaxPollInterval)
	}
}

func elapsed(since time.Time) time.Duration {
	if since.IsZero() {
		return 0
	}
	return time.Since(since).Round(time.Second)
}

// waitCluster waits until the cluster is available, recording status changes.
func (s *session) waitCluster(ctx context.Context, rec *Record) error {
	id := rec.ClusterID
	return s.poll(ctx, "cluster "+id+" to become available", func() (bool, error) {
		cl, err := s.describeCluster(ctx, id)
		if err != nil {
			return false, fmt.Errorf("aurora: %w", err)
		}
		if cl == nil {
			return false, fmt.Errorf("aurora: DB cluster %s disappeared while restoring (deleted outside stack?); run `stack up` again to restore it anew", id)
		}
		st := aws.ToString(cl.Status)
		if slices.Contains(failedStatuses, st) {
			return false, fmt.Errorf("aurora: DB cluster %s is %q; see its events in the RDS console, then run `stack rerun-step %s %s --replace` to restore it anew", id, st, s.run.Stack, s.run.Step)
		}
		if st == "stopped" {
			// Someone stopped the clone to save money; it is wanted now.
			s.progress("starting stopped cluster %s", id)
			if _, err := s.api.StartDBCluster(ctx, &rds.StartDBClusterInput{DBClusterIdentifier: aws.String(id)}); err != nil && !isCode(err, "InvalidDBClusterStateFault") {
				return false, fmt.Errorf("aurora: start the stopped cluster %s: %w", id, explain(err, "StartDBCluster", id))
			}
		}
		s.progress("restoring cluster %s: status %s, %s", id, st, elapsed(rec.Started))
		if status := "cluster " + st; status != rec.Status {
			rec.Status = status
			if err := s.update(rec); err != nil {
				return false, err
			}
		}
		return st == "available", nil
	})
}

// ensureInstances creates the instances the config asks for that do not exist
// yet, changes the class of those that differ and removes surplus readers.
func (s *session) ensureInstances(ctx context.Context, cfg Config, rec *Record) error {
	id := rec.ClusterID
	existing, err := s.clusterInstances(ctx, id)
	if err != nil {
		return fmt.Errorf("aurora: %w", err)
	}
	have := map[int]types.DBInstance{}
	for _, in := range existing {
		if n := instanceNumber(id, aws.ToString(in.DBInstanceIdentifier)); n > 0 {
			have[n] = in
		}
	}
	rec.Instances = rec.Instances[:0]
	created := 0
	for n := 1; n <= cfg.Instances; n++ {
		iid := instanceID(id, n)
		rec.Instances = append(rec.Instances, iid)
		in, ok := have[n]
		switch {
		case !ok:
			_, err := s.api.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
				DBInstanceIdentifier: aws.String(iid),
				DBClusterIdentifier:  aws.String(id),
				DBInstanceClass:      aws.String(cfg.InstanceClass),
				Engine:               aws.String(cfg.Engine),
				PromotionTier:        aws.Int32(int32(min(n-1, 15))),
				Tags:                 tags(s.run.Stack, s.run.Step, s.run.Owner, ""),
			})
			if err != nil && !isCode(err, "DBInstanceAlreadyExists") {
				return fmt.Errorf("aurora: create instance %s (%s) in cluster %s: %w", iid, cfg.InstanceClass, id, explain(err, "CreateDBInstance", iid))
			}
			created++
		case aws.ToString(in.DBInstanceClass) != cfg.InstanceClass && aws.ToString(in.DBInstanceStatus) != "deleting":
			s.progress("changing instance %s from %s to %s", iid, aws.ToString(in.DBInstanceClass), cfg.InstanceClass)
			_, err := s.api.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
				DBInstanceIdentifier: aws.String(iid),
				DBInstanceClass:      aws.String(cfg.InstanceClass),
				ApplyImmediately:     aws.Bool(true),
			})
			if err != nil {
				return fmt.Errorf("aurora: change the class of instance %s to %s: %w", iid, cfg.InstanceClass, explain(err, "ModifyDBInstance", iid))
			}
		}
	}
	for n, in := range have {
		if n <= cfg.Instances || aws.ToString(in.DBInstanceStatus) == "deleting" {
			continue
		}
		iid := aws.ToString(in.DBInstanceIdentifier)
		s.progress("removing surplus instance %s (the config asks for %d)", iid, cfg.Instances)
		if err := s.deleteInstance(ctx, iid); err != nil {
			return err
		}
	}
	if created > 0 {
		rec.Status = fmt.Sprintf("creating %d instance(s)", created)
	}
	return s.update(rec)
}

// waitInstances waits until every recorded instance is available and returns
// the cluster as it is then.
func (s *session) waitInstances(ctx context.Context, rec *Record) (*types.DBCluster, error) {
	id := rec.ClusterID
	var cl *types.DBCluster
	err := s.poll(ctx, "the instances of cluster "+id+" to become available", func() (bool, error) {
		list, err := s.clusterInstances(ctx, id)
		if err != nil {
			return false, fmt.Errorf("aurora: %w", err)
		}
		status := map[string]string{}
		for _, in := range list {
			status[aws.ToString(in.DBInstanceIdentifier)] = aws.ToString(in.DBInstanceStatus)
		}
		ready := 0
		var pending []string
		for _, iid := range rec.Instances {
			st, ok := status[iid]
			switch {
			case !ok:
				return false, fmt.Errorf("aurora: instance %s of cluster %s disappeared while starting; run `stack up` again to create it", iid, id)
			case slices.Contains(failedStatuses, st):
				return false, fmt.Errorf("aurora: instance %s of cluster %s is %q; see its events in the RDS console, then run `stack rerun-step %s %s --replace`", iid, id, st, s.run.Stack, s.run.Step)
			case st == "available":
				ready++
			default:
				pending = append(pending, iid+" "+st)
			}
		}
		sort.Strings(pending)
		summary := fmt.Sprintf("%d/%d instances available", ready, len(rec.Instances))
		if len(pending) > 0 {
			summary += " (" + strings.Join(pending, ", ") + ")"
		}
		s.progress("starting cluster %s: %s, %s", id, summary, elapsed(rec.Started))
		if summary != rec.Status {
			rec.Status = summary
			if err := s.update(rec); err != nil {
				return false, err
			}
		}
		if ready < len(rec.Instances) {
			return false, nil
		}
		cl, err = s.describeCluster(ctx, id)
		if err == nil && cl == nil {
			err = fmt.Errorf("DB cluster %s disappeared", id)
		}
		if err != nil {
			return false, fmt.Errorf("aurora: %w", err)
		}
		return true, nil
	})
	return cl, err
}

// deleteInstance starts deleting one instance; gone or going is fine.
func (s *session) deleteInstance(ctx context.Context, iid string) error {
	_, err := s.api.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(iid)})
	if err == nil || isInstanceNotFound(err) || isCode(err, "InvalidDBInstanceState") {
		return nil
	}
	return fmt.Errorf("aurora: delete instance %s: %w", iid, explain(err, "DeleteDBInstance", iid))
}

// deleteCluster deletes the cluster's instances (those it lists and those in
// recorded), waits for them, then deletes the cluster and waits until it is gone.
func (s *session) deleteCluster(ctx context.Context, id string, recorded []string, finalSnapshot bool) error {
	start := time.Now()
	cl, err := s.describeCluster(ctx, id)
	if err != nil {
		return fmt.Errorf("aurora: %w", err)
	}
	if cl == nil {
		s.progress("cluster %s is already gone", id)
		return nil
	}
	if err := s.checkOwner(cl); err != nil {
		return err
	}
	if err := s.deleteInstances(ctx, id, clusterInstances(cl, recorded), start); err != nil {
		return err
	}
	in := &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(!finalSnapshot)}
	if finalSnapshot {
		in.FinalDBSnapshotIdentifier = aws.String(FinalSnapshotID(id, time.Now()))
		s.progress("deleting cluster %s, keeping final snapshot %s", id, aws.ToString(in.FinalDBSnapshotIdentifier))
	}
	if gone, err := s.askDeleteCluster(ctx, in); gone || err != nil {
		return err
	}
	return s.poll(ctx, "cluster "+id+" to be deleted", func() (bool, error) {
		cl, err := s.describeCluster(ctx, id)
		if err != nil {
			return false, fmt.Errorf("aurora: %w", err)
		}
		if cl == nil {
			return true, nil
		}
		st := aws.ToString(cl.Status)
		if st != "deleting" {
			// Ask again: a cluster still busy with its instances refuses at first.
			if gone, err := s.askDeleteCluster(ctx, in); gone || err != nil {
				return gone, err
			}
		}
		s.progress("deleting cluster %s: status %s, %s", id, st, elapsed(start))
		return false, nil
	})
}

// clusterInstances lists, sorted, the instances a cluster has and those a
// record says it had.
func clusterInstances(cl *types.DBCluster, recorded []string) []string {
	names := map[string]bool{}
	for _, iid := range recorded {
		names[iid] = true
	}
	for _, m := range cl.DBClusterMembers {
		names[aws.ToString(m.DBInstanceIdentifier)] = true
	}
	return slices.Sorted(maps.Keys(names))
}

// deleteInstances starts deleting instances and waits until all are gone.
func (s *session) deleteInstances(ctx context.Context, id string, instances []string, start time.Time) error {
	for _, iid := range instances {
		if err := s.deleteInstance(ctx, iid); err != nil {
			return err
		}
	}
	return s.poll(ctx, "the instances of cluster "+id+" to be deleted", func() (bool, error) {
		left := 0
		for _, iid := range instances {
			_, err := s.api.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(iid)})
			switch {
			case isInstanceNotFound(err):
			case err != nil:
				return false, fmt.Errorf("aurora: %w", explain(err, "DescribeDBInstances", iid))
			default:
				left++
			}
		}
		s.progress("deleting cluster %s: %d instance(s) left, %s", id, left, elapsed(start))
		return left == 0, nil
	})
}

// askDeleteCluster asks RDS to delete the cluster; gone is true when it
// already was. A cluster still busy refuses, which is not an error.
func (s *session) askDeleteCluster(ctx context.Context, in *rds.DeleteDBClusterInput) (gone bool, err error) {
	id := aws.ToString(in.DBClusterIdentifier)
	_, err = s.api.DeleteDBCluster(ctx, in)
	switch {
	case isClusterNotFound(err):
		return true, nil
	case err != nil && !isCode(err, "InvalidDBClusterStateFault"):
		return false, fmt.Errorf("aurora: delete cluster %s: %w", id, explain(err, "DeleteDBCluster", id))
	}
	return false, nil
}

// FinalSnapshotID names the snapshot kept when a cluster is torn down with
// final_snapshot set.
func FinalSnapshotID(cluster string, at time.Time) string {
	return cluster + "-final-" + at.UTC().Format("20060102-150405")
}

func (s *session) waitClusterGone(ctx context.Context, id string, start time.Time) error {
	return s.poll(ctx, "cluster "+id+" to be deleted", func() (bool, error) {
		cl, err := s.describeCluster(ctx, id)
		if err != nil {
			return false, fmt.Errorf("aurora: %w", err)
		}
		if cl == nil {
			return true, nil
		}
		s.progress("deleting cluster %s: status %s, %s", id, aws.ToString(cl.Status), elapsed(start))
		return false, nil
	})
}
