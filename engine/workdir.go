package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// stackWork is the folder of a stack's working copies on this workstation:
// CACHE/work/NAME, unless a stack of the same name on another store holds
// it (the demo tried on the local store, then on S3), and then
// CACHE/work/NAME@DIGEST, a digest of this store's location. Two stores
// sharing one folder would trample each other's Terraform data when run
// side by side, and one's killed run would leave its journal and saved
// state for the other's next command. The folder's .store file names its
// store; a folder without one (made before it existed) is taken as this
// store's, as it was.
func (e *Engine) stackWork(name string) string {
	dir := filepath.Join(e.CacheDir, "work", name)
	me := e.Store.String()
	marker := filepath.Join(dir, ".store")
	owner, err := os.ReadFile(marker)
	if errors.Is(err, fs.ErrNotExist) {
		owner, err = claimWork(dir, marker, me)
	}
	if err != nil || string(owner) == me {
		return dir
	}
	sum := sha256.Sum256([]byte(me))
	return dir + "@" + hex.EncodeToString(sum[:6])
}

// claimWork names store me as the owner of dir, unless another command
// named its store first; it returns the owner.
func claimWork(dir, marker, me string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(marker)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, err = f.WriteString(me)
	return []byte(me), err
}
