// Package s3store keeps stack state in an S3 bucket (or an S3-compatible
// server such as MinIO) behind the stack.Store interface.
//
// Every write is a compare-and-swap with S3 conditional requests: If-None-Match: *
// creates, If-Match: ETAG updates and deletes. Credentials, region and endpoint
// come from the AWS SDK's standard chain (AWS_PROFILE, AWS_* env, SSO, instance
// role; AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), so there are no
// project-specific auth flags.
package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/stack"
)

// Scheme is the URL scheme that selects this store.
const Scheme = "s3"

// DefaultRegion is used when the SDK configuration names none.
const DefaultRegion = "us-east-1"

// writeIDKey is user metadata stored with every object so that a Put whose
// first attempt landed but whose answer was lost (then retried by the SDK and
// refused with 412) can recognise its own write instead of reporting a conflict.
const writeIDKey = "stack-write-id"

// Retry bounds: a short outage (a server restart) is ridden over, a server that
// stays down fails within a few seconds with a message saying so. Every
// command makes several store calls, so each must give up quickly. The SDK's
// AWS_MAX_ATTEMPTS / max_attempts settings override maxAttempts.
const (
	maxAttempts = 4
	maxBackoff  = time.Second
)

// idleConns is how many connections to the server are kept open between requests.
const idleConns = 64

// Store is a stack.Store on an S3 bucket and key prefix.
type Store struct {
	client    *s3.Client
	bucket    string
	prefix    string // without leading or trailing slash; may be empty
	region    string
	endpoint  string // custom endpoint URL, "" for AWS
	pathStyle bool
	pageSize  int32 // List page size; 0 = the server's (1000)
	// maxAttempts is the user's AWS_MAX_ATTEMPTS / max_attempts, 0 if unset.
	maxAttempts int
}

var (
	_ stack.Store     = (*Store)(nil)
	_ stack.DirLister = (*Store)(nil)
)

// Open connects to s3://BUCKET/PREFIX and checks that the bucket is reachable.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	bucket, prefix, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		// A server that accepts connections but never answers (hung, paused)
		// must fail an attempt rather than block the command forever.
		config.WithHTTPClient(awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = 5 * time.Second }).
			WithTransportOptions(func(tr *http.Transport) {
				tr.ResponseHeaderTimeout = 30 * time.Second
				// `stack list` reads up to 64 stacks at once (engine.DefaultListConcurrency);
				// with the SDK's 10 idle connections per host, most of those
				// would pay a new TCP (and TLS) handshake on every request.
				tr.MaxIdleConnsPerHost = idleConns
				tr.MaxIdleConns = idleConns
			})))
	if err != nil {
		return nil, fmt.Errorf("state store %s: load AWS configuration (AWS_PROFILE, AWS_* variables, ~/.aws/config): %w", rawURL, err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("state store %s: cannot get AWS credentials: set AWS_PROFILE (and run `aws sso login` for SSO) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: %w", rawURL, err)
	}
	pathStyle, err := usePathStyleFromEnv()
	if err != nil {
		return nil, err
	}
	s := &Store{bucket: bucket, prefix: prefix, region: cfg.Region, maxAttempts: cfg.RetryMaxAttempts}
	s.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Set here rather than with config.WithRetryer, which would make the
		// SDK ignore AWS_MAX_ATTEMPTS; that still wraps this retryer.
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
			// The default token bucket refuses retries after a burst of
			// failures with "retry quota exceeded", which hides the real cause.
			o.RateLimiter = ratelimit.None
		})
		// An S3-compatible server that returns no checksum (moto) would
		// otherwise have the SDK log "Response has no supported checksum" on
		// stderr for every read, in the middle of `up`'s output.
		o.DisableLogOutputChecksumValidationSkipped = true
		if o.BaseEndpoint != nil {
			s.endpoint = *o.BaseEndpoint
			// S3-compatible servers (MinIO) rarely have per-bucket DNS names.
			o.UsePathStyle = true
			// Nor do they all compute CRC checksums: ask for them and check
			// them only where S3 requires, as the Terraform backend does
			// (skip_s3_checksum, backend.go). Records carry their own ETags.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		if pathStyle != nil {
			o.UsePathStyle = *pathStyle
		}
	})
	s.pathStyle = s.client.Options().UsePathStyle
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// usePathStyleFromEnv reads AWS_S3_USE_PATH_STYLE, which the SDK itself does not.
func usePathStyleFromEnv() (*bool, error) {
	v := os.Getenv("AWS_S3_USE_PATH_STYLE")
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, fmt.Errorf("AWS_S3_USE_PATH_STYLE=%q: want true or false", v)
	}
	return &b, nil
}

// ParseURL splits s3://BUCKET/PREFIX.
func ParseURL(rawURL string) (bucket, prefix string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != Scheme || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("state store %q: want s3://BUCKET or s3://BUCKET/PREFIX", rawURL)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// check makes one cheap request so a wrong bucket, endpoint or credentials is
// reported before any work starts.
func (s *Store) check(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.objectKey("")),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return s.wrap("open", "", err)
	}
	return nil
}

func (s *Store) objectKey(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Get returns an object and its ETag.
func (s *Store) Get(ctx context.Context, key string) ([]byte, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		return nil, "", s.wrap("read", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", s.wrap("read", key, err)
	}
	return data, aws.ToString(out.ETag), nil
}

// Put writes an object if its current ETag is ifMatch ("" = must not exist,
// stack.AnyVersion = unconditional) and returns the new ETag.
func (s *Store) Put(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	return s.put(ctx, key, data, ifMatch, newWriteID())
}

func (s *Store) put(ctx context.Context, key string, data []byte, ifMatch, writeID string) (string, error) {
	in := &s3.PutObjectInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(s.objectKey(key)),
		Body:     bytes.NewReader(data),
		Metadata: map[string]string{writeIDKey: writeID},
	}
	switch ifMatch {
	case "":
		in.IfNoneMatch = aws.String("*")
	case stack.AnyVersion:
	default:
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		err = s.wrap("write", key, err)
		if in.IfMatch != nil && errors.Is(err, stack.ErrNotFound) {
			// The version we expected to replace was deleted meanwhile.
			err = fmt.Errorf("write %s: it was deleted since it was read: %w", s.Location(key), stack.ErrConflict)
		}
		if errors.Is(err, stack.ErrConflict) {
			if version, ok := s.ownWrite(ctx, key, writeID); ok {
				return version, nil
			}
		}
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// ownWrite tells whether the object now holds the write tagged writeID: the
// SDK retried a Put whose first attempt had landed, and the retry lost to it.
func (s *Store) ownWrite(ctx context.Context, key, writeID string) (string, bool) {
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil || head.Metadata[writeIDKey] != writeID {
		return "", false
	}
	return aws.ToString(head.ETag), true
}

// Delete removes an object if its ETag is ifMatch (stack.AnyVersion: any).
// A missing object is not an error.
//
// AWS S3 honours If-Match on DeleteObject, and it is sent. MinIO (checked in
// its source, 2026-02) ignores it, so a conditional HEAD runs first: against
// MinIO a write landing between that check and the delete can still be lost.
// The engine deletes conditionally only when releasing a lease it holds, where
// that window is milliseconds against a lease TTL.
func (s *Store) Delete(ctx context.Context, key, ifMatch string) error {
	in := &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	}
	if ifMatch != stack.AnyVersion && ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
		_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket:  in.Bucket,
			Key:     in.Key,
			IfMatch: in.IfMatch,
		})
		if err != nil {
			err = s.wrap("delete", key, err)
			if errors.Is(err, stack.ErrNotFound) {
				return nil
			}
			return err
		}
	}
	_, err := s.client.DeleteObject(ctx, in)
	if err != nil {
		err = s.wrap("delete", key, err)
		if errors.Is(err, stack.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// List returns the keys that start with prefix, sorted.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	base := s.objectKey("")
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(base + prefix),
	}, func(o *s3.ListObjectsV2PaginatorOptions) {
		o.Limit = s.pageSize
	})
	var keys []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", prefix, err)
		}
		for _, obj := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(obj.Key), base))
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// ListDirs names the folders directly under prefix with a delimiter listing:
// S3 returns each folder once as a common prefix, so listing 1,000 stacks is
// one request however many logs and reports each holds.
func (s *Store) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	base := s.objectKey(prefix)
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(s.bucket),
		Prefix:    aws.String(base),
		Delimiter: aws.String("/"),
	}, func(o *s3.ListObjectsV2PaginatorOptions) {
		o.Limit = s.pageSize
	})
	var dirs []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", prefix, err)
		}
		for _, p := range page.CommonPrefixes {
			if d := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), base), "/"); d != "" {
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// Location is the s3:// URL of a key.
func (s *Store) Location(key string) string {
	return "s3://" + s.bucket + "/" + s.objectKey(key)
}

// String names the store, with its endpoint when it is not AWS.
func (s *Store) String() string {
	u := "s3://" + s.bucket
	if s.prefix != "" {
		u += "/" + s.prefix
	}
	if s.endpoint != "" {
		u += " at " + s.endpoint
	}
	return u
}

// Bucket, Prefix, Region and Endpoint describe where the store lives.
func (s *Store) Bucket() string   { return s.bucket }
func (s *Store) Prefix() string   { return s.prefix }
func (s *Store) Region() string   { return s.region }
func (s *Store) Endpoint() string { return s.endpoint }

func newWriteID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
