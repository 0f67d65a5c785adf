package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/stack-tools/stack/stack"
	"github.com/stack-tools/stack/stack/localstore"
	"github.com/stack-tools/stack/stack/s3store"
)

// openStore opens the store a --state value names: s3://BUCKET/PREFIX or a directory.
func openStore(ctx context.Context, state string) (stack.Store, error) {
	switch {
	case strings.HasPrefix(state, "s3://"):
		if _, _, err := s3store.ParseURL(state); err != nil {
			return nil, &usageError{fmt.Errorf("--state: %w", err)}
		}
		return s3store.Open(ctx, state)
	case strings.Contains(state, "://"):
		return nil, &usageError{fmt.Errorf("--state %s: use a directory or s3://BUCKET/PREFIX", state)}
	case state == "":
		return localstore.Open(localstore.DefaultDir())
	default:
		return localstore.Open(state)
	}
}
