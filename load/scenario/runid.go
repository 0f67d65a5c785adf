package scenario

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Run-unique message ids (end-to-end tracing). With Options.Run set, a
// message id is no longer drawn from the seeded sequence but encodes
// (run, part, seq): 64 bits of the run (random per run, so a rerun with the
// same seed gets new ids), 14 bits of the fleet part and 48 bits of the
// part's sequence number. Ids therefore never collide within a run, between
// the workers of a fleet, or (but for a 2^-60 chance) between runs, and the
// generator finds a message from its id without a map: the id is the index.
//
// Layout (16 bytes): run (8, with the UUID version nibble in byte 6), then
// 0b10 (UUID variant), part (14 bits), seq (48 bits).
const (
	maxPart = 1<<14 - 1
	maxSeq  = 1<<48 - 1
)

// NewRun returns a fresh run id for Options.Run (never 0).
func NewRun() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	r := binary.BigEndian.Uint64(b[:])
	return r&^(0xf0<<8) | 0x40<<8
}

// checkRun says whether ids of format f can carry a run id.
func checkRun(f IDFormat, parts int) error {
	if f.Format == "hex" && f.Length < 32 {
		return fmt.Errorf("message_id: end-to-end tracing needs ids of at least 32 hex digits (\"length\": 32), not %d", f.Length)
	}
	if parts-1 > maxPart {
		return fmt.Errorf("end-to-end tracing: at most %d workers", maxPart+1)
	}
	return nil
}

// appendRunID appends the id of message seq of part in run, in format f.
func appendRunID(b []byte, f IDFormat, run uint64, part int, seq uint64) []byte {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], run)
	binary.BigEndian.PutUint64(raw[8:], 2<<62|uint64(part&maxPart)<<48|seq&maxSeq)
	b = append(b, f.Prefix...)
	if f.Format == "hex" {
		b = hex.AppendEncode(b, raw[:])
		for i := 32; i < f.Length; i++ {
			b = append(b, '0')
		}
		return b
	}
	return appendUUID(b, raw[:])
}

// appendUUID appends 16 bytes in the UUID text form (8-4-4-4-12 hex digits).
func appendUUID(b, raw []byte) []byte {
	b = hex.AppendEncode(b, raw[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, raw[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, raw[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, raw[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, raw[10:16])
}

// IDCodec reads the ids of one run back into (part, seq).
type IDCodec struct {
	Format IDFormat
	Run    uint64
}

// RunID is the id of message seq of part (what the generator gave it).
func (c IDCodec) RunID(part int, seq uint64) string {
	return string(appendRunID(nil, c.Format, c.Run, part, seq))
}

// Parse returns the part and sequence number an id of this run encodes; ok
// is false for anything else (another run's id, or not an id). It does not
// allocate.
func (c IDCodec) Parse(id []byte) (part int, seq uint64, ok bool) {
	p := c.Format.Prefix
	if len(id) < len(p) || string(id[:len(p)]) != p {
		return 0, 0, false
	}
	id = id[len(p):]
	var digits [32]byte
	switch {
	case c.Format.Format == "hex":
		if len(id) != max(c.Format.Length, 32) {
			return 0, 0, false
		}
		copy(digits[:], id[:32])
	case len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-':
		n := copy(digits[:], id[0:8])
		n += copy(digits[n:], id[9:13])
		n += copy(digits[n:], id[14:18])
		n += copy(digits[n:], id[19:23])
		copy(digits[n:], id[24:36])
	default:
		return 0, 0, false
	}
	var raw [16]byte
	if _, err := hex.Decode(raw[:], lower(&digits)); err != nil {
		return 0, 0, false
	}
	lo := binary.BigEndian.Uint64(raw[8:])
	if binary.BigEndian.Uint64(raw[:8]) != c.Run || lo>>62 != 2 {
		return 0, 0, false
	}
	return int(lo >> 48 & maxPart), lo & maxSeq, true
}

// lower folds hex digits to lower case in place (a pipeline may upper-case ids).
func lower(d *[32]byte) []byte {
	for i, c := range d {
		if 'A' <= c && c <= 'F' {
			d[i] = c + 'a' - 'A'
		}
	}
	return d[:]
}
