package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/stack-tools/stack/stack"
)

// wrap turns an SDK error into one that says which store and key failed, why
// in words, and what to do; conflicts and missing keys wrap the stack sentinels.
func (s *Store) wrap(op, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, s.where(key), err)
	}
	code, status := errorCode(err)
	switch {
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed ||
		code == "ConditionalRequestConflict" || status == http.StatusConflict:
		return fmt.Errorf("%s %s: %w", op, s.where(key), stack.ErrConflict)
	case code == "NoSuchBucket":
		return fmt.Errorf("%s %s: bucket %q does not exist at %s: create it or fix the bucket name in --state/STACK_STATE: %w",
			op, s.where(key), s.bucket, s.endpointName(), err)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", op, s.where(key), stack.ErrNotFound)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken" ||
		code == "AccessDenied" || code == "InvalidToken" || status == http.StatusForbidden:
		return fmt.Errorf("%s %s: access refused by %s: check the AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; `aws sso login` for SSO) and that they may use bucket %q: %w",
			op, s.where(key), s.endpointName(), s.bucket, err)
	case isNetworkError(err) || status >= 500:
		return fmt.Errorf("%s %s: cannot reach %s (%d attempts): check that the server is up and the endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) and region are right, then run the command again: %w",
			op, s.where(key), s.endpointName(), s.client.Options().Retryer.MaxAttempts(), err)
	}
	return fmt.Errorf("%s %s at %s: %w", op, s.where(key), s.endpointName(), err)
}

func (s *Store) where(key string) string {
	if key == "" {
		return "state store " + s.Location("")
	}
	return s.Location(key)
}

func (s *Store) endpointName() string {
	if s.endpoint != "" {
		return s.endpoint
	}
	return "S3 in " + s.region
}

// errorCode returns the S3 error code and HTTP status of err, when it has them.
func errorCode(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

func isNetworkError(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &netErr) || errors.As(err, &opErr)
}
