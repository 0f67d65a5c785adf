package generator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stack-tools/stack/load/scenario"
	"github.com/stack-tools/stack/load/scenario/s3scenario"
)

// maxSenderFile bounds a sender list (about a million rows).
const maxSenderFile = 256 << 20

// LoadSenders reads the list "senders": {"file": ...} names, relative to dir
// or s3://BUCKET/KEY, and checks it (ParseSenders: line numbers for bad
// rows). Nothing to do for a synthetic pool.
func (c *Config) LoadSenders(ctx context.Context, dir string) error {
	f := c.Senders.File
	if f == "" {
		return nil
	}
	var data []byte
	var err error
	if s3scenario.Is(f) {
		data, err = s3scenario.ReadObject(ctx, f, maxSenderFile)
	} else {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		data, err = readLimited(f)
	}
	if err != nil {
		return fmt.Errorf("senders: %w", err)
	}
	list, err := scenario.ParseSenders(data, c.Senders.File)
	if err != nil {
		return fmt.Errorf("senders: %w", err)
	}
	c.senderList = list
	return nil
}

func readLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxSenderFile {
		return nil, fmt.Errorf("%s is over %d MiB", path, maxSenderFile>>20)
	}
	return os.ReadFile(path)
}
