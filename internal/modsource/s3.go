package modsource

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	getter "github.com/hashicorp/go-getter/v2"
)

// S3Getter is go-getter's s3:: protocol on the AWS SDK v2 this module
// already uses (go-getter v2 keeps its own in a module on the SDK v1):
// s3::https://s3.REGION.amazonaws.com/BUCKET/KEY, or any S3-compatible
// endpoint (s3::http://127.0.0.1:9000/BUCKET/KEY, path style). A key ending
// in an archive extension (.zip, .tar.gz) is unpacked by go-getter; another
// key is a folder: every object under it is fetched. Credentials and region
// come from the usual AWS configuration.
type S3Getter struct{}

var _ getter.Getter = S3Getter{}

// Getters are go-getter's default protocols plus s3::.
func Getters() []getter.Getter {
	return append([]getter.Getter{S3Getter{}}, getter.Getters...)
}

// Detect claims sources forced with s3::.
func (S3Getter) Detect(req *getter.Request) (bool, error) {
	return req.Forced == "s3", nil
}

// Mode says a key with an extension is a file (an archive), else a folder.
func (S3Getter) Mode(_ context.Context, u *url.URL) (getter.Mode, error) {
	if path.Ext(u.Path) != "" {
		return getter.ModeFile, nil
	}
	return getter.ModeDir, nil
}

// Get fetches every object under the key into req.Dst.
func (g S3Getter) Get(ctx context.Context, req *getter.Request) error {
	client, bucket, prefix, err := s3Client(ctx, req.URL())
	if err != nil {
		return err
	}
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if rel == "" || strings.HasSuffix(rel, "/") || strings.Contains(rel, "..") {
				continue
			}
			if err := download(ctx, client, bucket, aws.ToString(o.Key), filepath.Join(req.Dst, filepath.FromSlash(rel))); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("s3://%s/%s holds no objects", bucket, prefix)
	}
	return nil
}

// GetFile fetches one object (an archive go-getter then unpacks).
func (g S3Getter) GetFile(ctx context.Context, req *getter.Request) error {
	client, bucket, key, err := s3Client(ctx, req.URL())
	if err != nil {
		return err
	}
	return download(ctx, client, bucket, key, req.Dst)
}

func download(ctx context.Context, client *s3.Client, bucket, key, dst string) error {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("reading s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return fmt.Errorf("reading s3://%s/%s: %w", bucket, key, err)
	}
	return f.Close()
}

// s3Client reads bucket and key from an s3:: URL and makes a client for its
// endpoint: AWS's own hosts by region, any other host path style.
func s3Client(ctx context.Context, u *url.URL) (*s3.Client, string, string, error) {
	if u == nil {
		return nil, "", "", fmt.Errorf("s3:: source without a URL")
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if bucket == "" || key == "" {
		return nil, "", "", fmt.Errorf("s3::%s: want s3::https://HOST/BUCKET/KEY", u)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, "", "", fmt.Errorf("s3::%s: AWS configuration: %w", u, err)
	}
	host := u.Hostname()
	onAWS := strings.HasSuffix(host, ".amazonaws.com")
	if onAWS {
		if parts := strings.Split(host, "."); len(parts) == 4 && parts[1] != "" {
			cfg.Region = parts[1] // s3.REGION.amazonaws.com
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if !onAWS {
			o.BaseEndpoint = aws.String(u.Scheme + "://" + u.Host)
			o.UsePathStyle = true
		}
	})
	return client, bucket, key, nil
}
