// Package probe records what arrives at the far end of a pipeline under test
// (HTTP requests, mail, SQS messages) so a load run can trace each message it
// sent to its arrivals. Every arrival goes to an append-only journal on disk
// and is synced before the sender is answered, so a probe that is killed and
// started again loses nothing it acknowledged; generators pull the journal
// over HTTP from a position they keep (pull.go).
package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Arrival is one thing that reached a probe.
type Arrival struct {
	// N is the arrival's position in its probe's journal (from 0).
	N     uint64    `json:"n"`
	At    time.Time `json:"at"`
	Probe string    `json:"probe"`
	// Kind is http, smtp or sqs.
	Kind string `json:"kind"`
	// Header holds HTTP headers, mail headers (plus Mail-From and Rcpt-To) or
	// SQS message attributes; the first value of each, canonical names.
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body,omitempty"`
}

// MaxBody is the most of a body a probe keeps.
const MaxBody = 1 << 20

// Journal is an append-only file of arrivals, one JSON object a line.
type Journal struct {
	f       *os.File
	reqs    chan *appendReq
	done    chan struct{}
	stopped chan struct{}
	close   sync.Once

	mu      sync.Mutex
	offsets []int64 // start of each record
	size    int64
	err     error
}

type appendReq struct {
	a    *Arrival
	done chan error
}

// OpenJournal opens (or creates) the journal at path. A record torn by a
// crash mid-write is cut off: it was never acknowledged.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("probe journal: %w", err)
	}
	j := &Journal{f: f, reqs: make(chan *appendReq, 1024), done: make(chan struct{}), stopped: make(chan struct{})}
	if err := j.scan(); err != nil {
		f.Close()
		return nil, fmt.Errorf("probe journal %s: %w", path, err)
	}
	go j.write()
	return j, nil
}

func (j *Journal) scan() error {
	r := bufio.NewReaderSize(j.f, 1<<16)
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a last line without its newline is torn
		}
		if err != nil {
			return err
		}
		j.offsets = append(j.offsets, off)
		off += int64(len(line))
	}
	j.size = off
	if err := j.f.Truncate(off); err != nil {
		return err
	}
	_, err := j.f.Seek(off, io.SeekStart)
	return err
}

// Len is the number of arrivals recorded.
func (j *Journal) Len() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return uint64(len(j.offsets))
}

// Append records a and returns once it is on disk (a.N is set).
func (j *Journal) Append(ctx context.Context, a *Arrival) error {
	r := &appendReq{a: a, done: make(chan error, 1)}
	select {
	case j.reqs <- r:
	case <-j.done:
		return errors.New("probe journal is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write commits in groups: one write and one fsync for every arrival waiting.
func (j *Journal) write() {
	defer close(j.stopped)
	var buf bytes.Buffer
	batch := make([]*appendReq, 0, 256)
	for {
		var r *appendReq
		select {
		case r = <-j.reqs:
		case <-j.done:
			return
		}
		batch = append(batch[:0], r)
	more:
		for len(batch) < cap(batch) {
			select {
			case r := <-j.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := j.commit(&buf, batch)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (j *Journal) commit(buf *bytes.Buffer, batch []*appendReq) error {
	j.mu.Lock()
	n, err := uint64(len(j.offsets)), j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	buf.Reset()
	starts := make([]int64, len(batch))
	for i, r := range batch {
		r.a.N = n + uint64(i)
		starts[i] = j.size + int64(buf.Len())
		b, err := json.Marshal(r.a)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := j.f.Write(buf.Bytes()); err != nil {
		return j.fail(err)
	}
	if err := j.f.Sync(); err != nil {
		return j.fail(err)
	}
	j.mu.Lock()
	j.offsets = append(j.offsets, starts...)
	j.size += int64(buf.Len())
	j.mu.Unlock()
	return nil
}

// fail stops the journal: after a failed write the file's end is unknown.
func (j *Journal) fail(err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err = fmt.Errorf("probe journal: %w (restart the probe)", err)
	return j.err
}

// Read returns the records from position from on, at most limit of them, as
// JSON lines, and the position after them.
func (j *Journal) Read(from uint64, limit int) ([]byte, uint64, error) {
	j.mu.Lock()
	n := uint64(len(j.offsets))
	if from >= n {
		j.mu.Unlock()
		return nil, n, nil
	}
	to := min(n, from+uint64(limit))
	start, end := j.offsets[from], j.size
	if to < n {
		end = j.offsets[to]
	}
	j.mu.Unlock()
	b := make([]byte, end-start)
	if _, err := j.f.ReadAt(b, start); err != nil {
		return nil, from, fmt.Errorf("probe journal: %w", err)
	}
	return b, to, nil
}

// Close stops the writer; appends waiting get an error.
func (j *Journal) Close() error {
	var err error
	j.close.Do(func() {
		close(j.done)
		<-j.stopped
		err = j.f.Close()
	})
	return err
}
