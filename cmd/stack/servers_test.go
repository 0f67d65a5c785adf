package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/stack-tools/stack/internal/testenv"
)

// The package's tests share one MinIO and one moto_server, started by the
// first test that needs them and stopped by TestMain. Tests keep apart by
// stack name and, in S3, by store prefix.
var (
	startMinio = sync.OnceValues(func() (*testenv.Minio, error) {
		dir, err := os.MkdirTemp("", "stack-minio-")
		if err != nil {
			return nil, err
		}
		m, err := testenv.StartMinio(dir)
		serverStops = append(serverStops, func() {
			if m != nil {
				_ = m.Stop()
			}
			os.RemoveAll(dir)
		})
		return m, err
	})
	startMoto = sync.OnceValues(func() (*testenv.Moto, error) {
		m, err := testenv.StartMoto()
		if err != nil {
			return nil, err
		}
		serverStops = append(serverStops, m.Stop)
		return m, seedSnapshots(motoRDS(m))
	})
)

// sharedMinio returns the package's MinIO. A test that stops it must start it
// again; startS3 does so at cleanup in case the test failed first.
func sharedMinio(t *testing.T) *testenv.Minio {
	t.Helper()
	m, err := startMinio()
	if err != nil {
		testenv.Missing(t, err)
	}
	return m
}

// sharedMoto returns the package's moto_server, with the fixture cluster and
// the snapshots e2e-seeded and e2e-empty the Aurora tests restore.
func sharedMoto(t *testing.T) *testenv.Moto {
	t.Helper()
	m, err := startMoto()
	if err != nil {
		testenv.Missing(t, err)
	}
	return m
}

// motoRDS is the tests' own RDS client, for setup and checks.
func motoRDS(m *testenv.Moto) *rds.Client {
	return rds.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(m.Endpoint()),
	})
}

func seedSnapshots(api *rds.Client) error {
	ctx := context.Background()
	if _, err := api.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String("fixtures"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("fixtures"), MasterUserPassword: aws.String("not-a-secret-1"),
	}); err != nil {
		return err
	}
	for _, id := range []string{"e2e-seeded", "e2e-empty"} {
		if _, err := api.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
			DBClusterIdentifier: aws.String("fixtures"), DBClusterSnapshotIdentifier: aws.String(id),
		}); err != nil {
			return err
		}
	}
	return nil
}

var notPrefixChars = regexp.MustCompile(`[^a-z0-9]+`)

// s3Prefix is the test's own store prefix in the shared bucket, new for each
// run of the test so that go test -count=N finds nothing of an earlier run.
func s3Prefix(t *testing.T) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := strings.Trim(notPrefixChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	p, loaded := s3Prefixes.LoadOrStore(t, name+"-"+hex.EncodeToString(b))
	if !loaded {
		t.Cleanup(func() { s3Prefixes.Delete(t) }) // a later test may get the same *testing.T address
	}
	return p.(string)
}

var s3Prefixes sync.Map // *testing.T -> prefix
