package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stores/localstore"
	"github.com/stack-tools/stack/stores/s3store"
)

// openStore opens the store a --state value names: s3://BUCKET/PREFIX or a directory.
func openStore(ctx context.Context, state string) (stack.Store, error) {
	switch {
	case strings.HasPrefix(state, "s3://"):
		if _, _, err := s3store.ParseURL(state); err != nil {
			return nil, &usageError{fmt.Errorf("--state: %w", err)}
		}
		return s3store.Open(ctx, state)
	case looksLikeURL(state):
		return nil, &usageError{fmt.Errorf("--state %s: a URL other than s3://BUCKET/PREFIX; use s3://BUCKET/PREFIX for S3, or a directory (write ./%s if a folder of that name is really meant)", state, state)}
	case state == "":
		return localstore.Open(localstore.DefaultDir())
	default:
		return localstore.Open(state)
	}
}

// scheme matches the start of a URL ("gs:", "s3:", "https:"); a Windows drive
// letter ("C:") is a single letter and does not match.
var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+:`)

// looksLikeURL catches typos such as s3:/bucket or s3:bucket, which would
// otherwise quietly become a local folder named "s3:".
func looksLikeURL(state string) bool {
	return scheme.MatchString(state) || strings.Contains(state, "://")
}
