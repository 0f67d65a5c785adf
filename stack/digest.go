package stack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// DigestKeyName is where a store keeps the secret that keys the digests of
// sensitive outputs. It belongs to the store, not to a stack: `down` leaves it.
const DigestKeyName = "secret/output-digest-key"

// LoadDigestKey returns the store's secret for sensitive-output digests,
// creating it on first use. The creation is a conditional write, so two
// workstations that race both end up with the one that was stored first.
//
// A digest keyed with a secret only the store holds cannot be used to guess a
// weak sensitive value offline from a record, a status page or an event line,
// as one keyed with a constant from the source could.
func LoadDigestKey(ctx context.Context, st Store) ([]byte, error) {
	for range 3 {
		data, _, err := st.Get(ctx, DigestKeyName)
		if err == nil {
			key, derr := hex.DecodeString(strings.TrimSpace(string(data)))
			if derr != nil || len(key) < 32 {
				return nil, fmt.Errorf("the store's digest key %s is damaged; delete it and run the command again (a new key is made; steps that use sensitive outputs of others re-apply once)", st.Location(DigestKeyName))
			}
			return key, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("reading the store's digest key %s: %w", st.Location(DigestKeyName), err)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		_, err = st.Put(ctx, DigestKeyName, []byte(hex.EncodeToString(key)+"\n"), "")
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, fmt.Errorf("creating the store's digest key %s: %w", st.Location(DigestKeyName), err)
		}
		// Another command created it first: read theirs.
	}
	return nil, fmt.Errorf("the store's digest key %s keeps changing; check who writes it", st.Location(DigestKeyName))
}

// outputDigest identifies a sensitive value without revealing it: an HMAC
// keyed with the store's secret over the output's name and value.
func outputDigest(key []byte, name string, value any) string {
	b, _ := json.Marshal(value)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write(b)
	return hex.EncodeToString(mac.Sum(nil)[:16])
}
