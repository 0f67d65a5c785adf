// Package s3scenario reads a scenario folder kept in S3 (s3://BUCKET/PREFIX:
// PREFIX/scenario.json and PREFIX/*.tmpl), so a team can edit templates in
// one place during a run (reload) without copying them to each machine.
package s3scenario

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/load/scenario"
)

// Is says whether a scenario is given as an s3:// prefix.
func Is(s string) bool { return strings.HasPrefix(s, "s3://") }

// Load reads the scenario under uri with the standard AWS configuration
// chain (AWS_ENDPOINT_URL_S3 for S3-compatible servers, path-style then).
func Load(ctx context.Context, uri string) (*scenario.Scenario, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("scenario %q: want s3://BUCKET/PREFIX of a scenario folder", uri)
	}
	bucket, prefix := u.Host, strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	client, err := newClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", uri, err)
	}
	files := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: listing: %w", uri, err)
		}
		for _, obj := range page.Contents {
			name := path.Base(aws.ToString(obj.Key))
			if name != scenario.FileName && !strings.HasSuffix(name, ".tmpl") {
				continue
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: obj.Key})
			if err != nil {
				return nil, fmt.Errorf("scenario %s: reading %s: %w", uri, name, err)
			}
			b, err := io.ReadAll(io.LimitReader(out.Body, 4<<20))
			out.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("scenario %s: reading %s: %w", uri, name, err)
			}
			files[name] = string(b)
		}
	}
	return scenario.FromFiles(files, uri)
}

func newClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.DisableLogOutputChecksumValidationSkipped = true
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	}), nil
}

// ReadObject reads one object (s3://BUCKET/KEY) of at most limit bytes, with
// the same configuration as Load: a sender list, a targets file.
func ReadObject(ctx context.Context, uri string, limit int64) ([]byte, error) {
	u, err := url.Parse(uri)
	key := ""
	if err == nil {
		key = strings.TrimPrefix(u.Path, "/")
	}
	if err != nil || u.Scheme != "s3" || u.Host == "" || key == "" {
		return nil, fmt.Errorf("%q: want s3://BUCKET/KEY", uri)
	}
	client, err := newClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.Host), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", uri, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", uri, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", uri, limit)
	}
	return b, nil
}
