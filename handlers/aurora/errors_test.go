package aurora

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stack-tools/stack/internal/testenv"
)

// A user whose role may look at RDS but not restore meets a message naming
// the action, the cluster and what to fix.
func TestAccessDeniedNamesTheMissingPermission(t *testing.T) {
	needMoto(t)
	// Six free requests: the IAM user with a read-only policy, and the snapshots.
	moto, err := testenv.StartMotoEnforcingIAM(6)
	if err != nil {
		testenv.Missing(t, err)
	}
	defer moto.Stop()
	ctx := context.Background()
	admin := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(moto.Endpoint()),
	}
	users := iam.NewFromConfig(admin)
	if _, err := users.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String("reader"), PolicyName: aws.String("rds-read-only"),
		PolicyDocument: aws.String(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["rds:Describe*"], "Resource": "*"}]}`),
	}); err != nil {
		t.Fatal(err)
	}
	key, err := users.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	if err := seedSnapshots(ctx, rds.NewFromConfig(admin)); err != nil {
		t.Fatal(err)
	}

	reader := admin
	reader.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	h := New(Options{PollInterval: 5e6, LoadConfig: func(context.Context) (aws.Config, error) { return reader, nil }})
	_, err = h.Run(ctx, newRun(t, "denied", minimalConfig, nil).HandlerRun)
	if err == nil {
		t.Fatal("restore succeeded without rds:RestoreDBClusterFromSnapshot")
	}
	for _, w := range []string{"access denied", "rds:RestoreDBClusterFromSnapshot", ClusterID("denied", "db"), "AWS_PROFILE"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Errorf("the AWS error is not wrapped: %v", err)
	}
}

// Errors moto cannot produce (quotas, a snapshot still being created) carry
// the AWS error codes below; each message names the resource and the fix.
func TestAWSErrorsSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		code string
		want []string
	}{
		{"InstanceQuotaExceeded", []string{"quota", "stack down", "Service Quotas", "db-1"}},
		{"DBClusterQuotaExceededFault", []string{"quota", "stack down", "db-1"}},
		{"InsufficientDBInstanceCapacity", []string{"capacity", "instance_class"}},
		{"InvalidDBClusterSnapshotStateFault", []string{"not available yet", "describe-db-cluster-snapshots", "db-1"}},
		{"AccessDenied", []string{"access denied", "rds:CreateDBInstance", "AWS_PROFILE"}},
		{"DBSubnetGroupNotFoundFault", []string{`"subnet_group"`}},
	} {
		cause := &smithy.GenericAPIError{Code: tc.code, Message: "from AWS"}
		err := explain(cause, "CreateDBInstance", "db-1")
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", tc.code, err, w)
			}
		}
		if !errors.Is(err, cause) {
			t.Errorf("%s: the AWS error is not wrapped", tc.code)
		}
	}
}
