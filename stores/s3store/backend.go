package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/steps/terraform/tfbackend"
)

// StateKey is the object name of a step's Terraform state inside its workspace folder.
const StateKey = "terraform.tfstate"

// TFStatePrefix is the store folder that holds every stack's Terraform state.
const TFStatePrefix = "tfstate"

// TerraformBackend returns Terraform's s3 backend for the steps of one stack. Each step
// uses its own workspace, so its state is at
// PREFIX/tfstate/STACK/WORKSPACE/terraform.tfstate, locked with a .tflock object
// beside it (use_lockfile, Terraform >= 1.11). The engine always selects a named
// workspace: the "default" workspace would put state at the bucket's root key.
//
// The configuration holds no credentials: Terraform reads them from the same
// environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) this process used.
func (s *Store) TerraformBackend(stackName, step string) tfbackend.Backend {
	cfg := map[string]any{
		"bucket":               s.bucket,
		"region":               s.region,
		"key":                  StateKey,
		"workspace_key_prefix": s.objectKey(path.Join(TFStatePrefix, stackName)),
		"use_lockfile":         true,
	}
	if s.endpoint != "" {
		// An S3-compatible server (MinIO): no STS, IMDS or AWS region list to
		// check against, and no CRC checksums on uploads.
		cfg["endpoints"] = map[string]any{"s3": s.endpoint}
		cfg["skip_credentials_validation"] = true
		cfg["skip_requesting_account_id"] = true
		cfg["skip_metadata_api_check"] = true
		cfg["skip_region_validation"] = true
		cfg["skip_s3_checksum"] = true
	}
	if s.maxAttempts > 0 {
		// Terraform's backend does not read AWS_MAX_ATTEMPTS itself.
		cfg["max_retries"] = s.maxAttempts
	}
	if s.pathStyle {
		cfg["use_path_style"] = true
	}
	b := tfbackend.Backend{Type: "s3", Config: cfg}
	if s.noTLS() {
		b.NoTLSCABundleAttr = "custom_ca_bundle"
	}
	b.State = func(ctx context.Context, workspace string) ([]byte, error) {
		data, _, err := s.Get(ctx, path.Join(TFStatePrefix, stackName, workspace, StateKey))
		return data, err
	}
	b.DropNewWorkspaceLock = func(ctx context.Context, workspace string) error {
		dir := path.Join(TFStatePrefix, stackName, workspace)
		_, _, err := s.Get(ctx, path.Join(dir, StateKey))
		if err == nil {
			return fmt.Errorf("workspace %q has state, so its lock is not one a workspace creation left", workspace)
		}
		if !errors.Is(err, stack.ErrNotFound) {
			return err
		}
		return s.Delete(ctx, path.Join(dir, StateKey+".tflock"), stack.AnyVersion)
	}
	b.NewWorkspace = func(ctx context.Context, workspace string, emptyState []byte) (tfbackend.NewWorkspace, error) {
		key := path.Join(TFStatePrefix, stackName, workspace, StateKey)
		created, err := s.createState(ctx, key, emptyState)
		if err != nil || !created {
			return tfbackend.NewWorkspace{}, err
		}
		// A killed `terraform workspace new` (or an apply creating its
		// workspace) leaves a lock and no state: one read of the lock,
		// made while preparing, lets the apply skip Terraform's lock round
		// trips.
		_, _, lerr := s.Get(ctx, key+".tflock")
		return tfbackend.NewWorkspace{Created: true, State: emptyState, Locked: !errors.Is(lerr, stack.ErrNotFound)}, nil
	}
	return b
}

// noTLS reports whether Terraform's backend for this store opens no TLS
// connection: the endpoint is plain HTTP and the keys come from the
// environment, so no credential provider calls STS or SSO (the backend's
// own STS and IMDS calls are skipped for a custom endpoint, above). A
// profile is left alone: Terraform may prefer it to the keys.
func (s *Store) noTLS() bool {
	return strings.HasPrefix(strings.ToLower(s.endpoint), "http://") &&
		os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") != "" &&
		os.Getenv("AWS_PROFILE") == "" && os.Getenv("AWS_DEFAULT_PROFILE") == ""
}

// createState writes a new workspace's first state as `terraform workspace
// new` does on the s3 backend: the object alone, typed application/json,
// without metadata, and only if there is none yet (If-None-Match), which
// stands in for the lock Terraform takes meanwhile. A workspace that exists
// already is left as it is (false).
func (s *Store) createState(ctx context.Context, key string, data []byte) (bool, error) {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.objectKey(key)),
		Body:        bytes.NewReader(data),
		ContentType: aws.String("application/json"),
		IfNoneMatch: aws.String("*"),
	})
	if err == nil {
		return true, nil
	}
	if err = s.wrap("write", key, err); errors.Is(err, stack.ErrConflict) {
		return false, nil
	}
	return false, fmt.Errorf("creating Terraform workspace state: %w", err)
}

// StatePrefix is the store key prefix under which a stack's Terraform state
// lives, for listing or removing it (keys relative to the store, as List returns).
func StatePrefix(stackName string) string {
	return path.Join(TFStatePrefix, stackName) + "/"
}

// Forget removes what Terraform left for a stack once every step is destroyed
// and its workspace deleted: stale .tflock objects of killed runs, state of
// workspaces that were never deleted. The engine calls it at the end of down.
func (s *Store) Forget(ctx context.Context, stackName string) error {
	keys, err := s.List(ctx, StatePrefix(stackName))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k, stack.AnyVersion); err != nil {
			return err
		}
	}
	return nil
}
