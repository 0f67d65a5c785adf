package e2e

import "time"

// rec is what the tracker keeps of one sent message: 24 bytes, whatever the
// message's size, so memory grows by a fixed amount per message.
type rec struct {
	intended int64 // ns since the run's start
	lagUs    int32 // actual send time - intended
	sender   uint32
	code     int16 // the target's status code; 0 when the request failed
	typ      uint8
	arrived  uint8 // arrivals matched to this message (saturates)
	flags    uint8
}

const (
	seen    = 1 << iota // the send's result is in
	refused             // the target did not accept it (error or not 2xx): expects nothing
	resend              // a duplicate resend: its id is an earlier message's
)

const chunkBits = 16

// ledger holds the records of one part's messages by sequence number, in
// chunks so it grows without copying.
type ledger struct {
	chunks [][]rec
	n      uint64 // one past the highest sequence number seen
}

func (l *ledger) at(seq uint64) *rec {
	c := int(seq >> chunkBits)
	for len(l.chunks) <= c {
		l.chunks = append(l.chunks, make([]rec, 1<<chunkBits))
	}
	if seq >= l.n {
		l.n = seq + 1
	}
	return &l.chunks[c][seq&(1<<chunkBits-1)]
}

// get returns the record of seq, or nil when its send is not in yet.
func (l *ledger) get(seq uint64) *rec {
	if seq >= l.n {
		return nil
	}
	r := &l.chunks[seq>>chunkBits][seq&(1<<chunkBits-1)]
	if r.flags&seen == 0 {
		return nil
	}
	return r
}

// start is where the message's e2e latency runs from (ns since the run's
// start): its intended send time, or its actual one when it left a little
// early, as the front door's latency does.
func (r *rec) start() int64 {
	return r.intended + int64(min(r.lagUs, 0))*int64(time.Microsecond)
}
