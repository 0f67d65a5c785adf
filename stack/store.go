package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
)

// ErrNotFound is returned by a Store for a key that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by a Store when a conditional write or delete finds a
// different version than the one expected.
var ErrConflict = errors.New("changed by someone else")

// Store is a small compare-and-swap object store: the local state directory or
// an S3 prefix. Records, leases, logs and reports are built on it.
type Store interface {
	// Get returns an object and its version.
	Get(ctx context.Context, key string) (data []byte, version string, err error)
	// Put writes an object if its current version is ifMatch. ifMatch "" means the
	// object must not exist yet; AnyVersion writes unconditionally. It returns
	// ErrConflict when the condition does not hold.
	Put(ctx context.Context, key string, data []byte, ifMatch string) (version string, err error)
	// Delete removes an object if its current version is ifMatch (AnyVersion: any).
	// Deleting a missing object is not an error.
	Delete(ctx context.Context, key string, ifMatch string) error
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Location says where a key lives, for people (a path or an s3:// URL).
	Location(key string) string
	// String names the store for messages.
	String() string
}

// Forgetter is implemented by stores that keep Terraform leftovers outside the
// stack's own keys (state folders, stale lock files); Down calls it last.
type Forgetter interface {
	Forget(ctx context.Context, stack string) error
}

// AnyVersion makes Put and Delete unconditional.
const AnyVersion = "*"

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// DirLister is implemented by stores that can name the folders one level
// below a prefix without listing every key under them. On S3 that is a
// delimiter listing: one request per 1,000 stacks, where a full listing of
// stacks/ returns tens of keys per stack (logs, reports, module snapshots).
type DirLister interface {
	// ListDirs returns the names of the folders directly under prefix (which
	// ends in "/"), sorted, without prefix or trailing slash.
	ListDirs(ctx context.Context, prefix string) ([]string, error)
}

// ListDirs names the folders directly under prefix, through the store's
// DirLister if it has one, else from a full List.
func ListDirs(ctx context.Context, st Store, prefix string) ([]string, error) {
	if dl, ok := st.(DirLister); ok {
		return dl.ListDirs(ctx, prefix)
	}
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, k := range keys {
		if name, _, isDir := strings.Cut(strings.TrimPrefix(k, prefix), "/"); isDir && name != "" {
			dirs = append(dirs, name)
		}
	}
	// Keys sort "a-b/x" before "a/x": sort the names themselves.
	slices.Sort(dirs)
	return slices.Compact(dirs), nil
}
