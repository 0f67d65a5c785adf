package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/stack-tools/stack/stack"
)

// readDigestKey loads the store's digest key if it exists, without creating
// one: read-only commands (plan) must not write to the store. Without a key no
// stack in the store has digests keyed with one yet.
func (e *Engine) readDigestKey(ctx context.Context) error {
	if e.digestKey != nil {
		return nil
	}
	data, _, err := e.Store.Get(ctx, stack.DigestKeyName)
	if errors.Is(err, stack.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the store's digest key %s: %w", e.Store.Location(stack.DigestKeyName), err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) < 32 {
		return fmt.Errorf("the store's digest key %s is damaged; delete it and run the command again", e.Store.Location(stack.DigestKeyName))
	}
	e.digestKey = key
	return nil
}

// loadDigestKey fetches the store's digest key once per command, before any
// step runs.
func (e *Engine) loadDigestKey(ctx context.Context) error {
	e.digestMu.Lock()
	defer e.digestMu.Unlock()
	if e.digestKey != nil {
		return nil
	}
	key, err := stack.LoadDigestKey(ctx, e.Store)
	if err != nil {
		return err
	}
	e.digestKey = key
	return nil
}
