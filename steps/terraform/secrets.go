package terraform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// reopenGap is how long the pipe waits after one read before serving the next.
const reopenGap = 100 * time.Millisecond

// secretPipe hands a step's sensitive variables to Terraform as a -var-file
// that is a named pipe: the values pass through the kernel, never a disk, and
// stay out of the process list (any user can read a command line; only this
// user can open a 0600 pipe in the 0700 working copy). Each time Terraform
// opens the pipe it reads the whole file.
type secretPipe struct {
	path string
	done chan struct{}
	wg   sync.WaitGroup
}

// serveSecrets starts serving vars at dir/sensitive.tfvars.json. The name is
// not one Terraform loads by itself, so only commands given -var-file open it.
func serveSecrets(dir string, vars map[string]any) (*secretPipe, error) {
	data, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	p := &secretPipe{path: filepath.Join(dir, "sensitive.tfvars.json"), done: make(chan struct{})}
	if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := mkfifo(p.path); err != nil {
		return nil, fmt.Errorf("creating the pipe for sensitive variables %s: %w", p.path, err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			f, err := os.OpenFile(p.path, os.O_WRONLY, 0) // waits for a reader
			if err != nil {
				return
			}
			select {
			case <-p.done: // the reader is close, unblocking us
				f.Close()
				return
			default:
			}
			_, _ = f.Write(data)
			f.Close()
			// Give the reader time to see the end of the file before the
			// pipe is offered again; a second open just waits for this.
			select {
			case <-p.done:
				return
			case <-time.After(reopenGap):
			}
		}
	}()
	return p, nil
}

// close stops serving and removes the pipe. Call it before removing the
// folder the pipe is in.
func (p *secretPipe) close() {
	if p == nil {
		return
	}
	close(p.done)
	// Opening the read end without waiting releases a writer blocked in open.
	if r, err := os.OpenFile(p.path, os.O_RDONLY|oNonblock, 0); err == nil {
		defer r.Close()
	}
	p.wg.Wait()
	os.Remove(p.path)
}
