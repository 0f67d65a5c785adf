package load

import "sync/atomic"

// holders counts the senders sharing one client (a Kafka client, a pool of
// NSQ producers), so the last sender to close closes the client.
type holders struct{ n atomic.Int64 }

func (h *holders) add() { h.n.Add(1) }

// done releases one sender and says whether it was the last.
func (h *holders) done() (last bool) { return h.n.Add(-1) == 0 }
