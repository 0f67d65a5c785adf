package aurora

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isCode(err error, codes ...string) bool {
	c := errorCode(err)
	for _, want := range codes {
		if c != "" && c == want {
			return true
		}
	}
	return false
}

func isClusterNotFound(err error) bool { return isCode(err, "DBClusterNotFoundFault") }

func isInstanceNotFound(err error) bool {
	return isCode(err, "DBInstanceNotFound", "DBInstanceNotFoundFault")
}

func isSnapshotNotFound(err error) bool {
	return isCode(err, "DBClusterSnapshotNotFoundFault", "DBSnapshotNotFound")
}

var (
	quotaCodes = []string{"InstanceQuotaExceeded", "DBClusterQuotaExceededFault", "StorageQuotaExceeded",
		"SnapshotQuotaExceeded", "InsufficientDBInstanceCapacity", "InsufficientDBClusterCapacityFault",
		"InsufficientStorageClusterCapacity"}
	accessCodes = []string{"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
		"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
		"ExpiredToken", "ExpiredTokenException"}
)

// isAccessDenied also trusts the HTTP status: some AWS-compatible endpoints
// (moto among them) send permission errors in a shape the SDK cannot decode.
func isAccessDenied(err error) bool {
	var re *smithyhttp.ResponseError
	return isCode(err, accessCodes...) || (errors.As(err, &re) && re.HTTPStatusCode() == 403)
}

// explain wraps an RDS error from action (an RDS API name) on resource with
// what the user can do about it.
func explain(err error, action, resource string) error {
	switch {
	case isCode(err, quotaCodes...):
		return fmt.Errorf("rds:%s %s: the account's RDS quota or capacity is exhausted (%s); tear down stacks you no longer need (`stack list`, `stack down NAME`), pick another instance_class, or request a higher quota in Service Quotas (Amazon RDS), then run `stack up` again: %w",
			action, resource, errorCode(err), err)
	case isAccessDenied(err):
		return fmt.Errorf("rds:%s %s: access denied; the AWS identity in use (check AWS_PROFILE or the credentials in the environment) needs permission for rds:%s and the other rds actions the aurora handler uses (DescribeDBClusterSnapshots, RestoreDBClusterFromSnapshot, CreateDBInstance, DescribeDBClusters, DescribeDBInstances, AddTagsToResource, DeleteDBInstance, DeleteDBCluster): %w",
			action, resource, action, err)
	case isCode(err, "InvalidDBClusterSnapshotStateFault"):
		return fmt.Errorf("rds:%s %s: the snapshot is not available yet; wait until `aws rds describe-db-cluster-snapshots --db-cluster-snapshot-identifier %s` shows status available, then run `stack up` again: %w",
			action, resource, resource, err)
	case isCode(err, "DBSubnetGroupNotFoundFault"):
		return fmt.Errorf("rds:%s %s: DB subnet group not found; check the aurora handler's \"subnet_group\" (usually ${outputs.NAME} of the step's module): %w", action, resource, err)
	case isCode(err, "DBClusterParameterGroupNotFound"):
		return fmt.Errorf("rds:%s %s: DB cluster parameter group not found; check the aurora handler's \"parameter_group\": %w", action, resource, err)
	}
	return fmt.Errorf("rds:%s %s: %w", action, resource, err)
}
