package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stack/localstore"
)

// openStore opens the store a --state value names: s3://BUCKET/PREFIX or a directory.
func openStore(ctx context.Context, state string) (stack.Store, error) {
	switch {
	case strings.HasPrefix(state, "s3://"):
		return nil, &usageError{fmt.Errorf("--state %s: the S3 store is not available in this build", state)}
	case strings.Contains(state, "://"):
		return nil, &usageError{fmt.Errorf("--state %s: use a directory or s3://BUCKET/PREFIX", state)}
	case state == "":
		return localstore.Open(localstore.DefaultDir())
	default:
		return localstore.Open(state)
	}
}
