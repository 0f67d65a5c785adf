package load

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"github.com/stack-tools/stack/load/scenario"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// NewTargeter returns a vegeta.Targeter that makes a fresh request from the
// scenario on each call, so a scenario can drive vegeta's own Attacker. (Run
// does not use it: vegeta's Attacker times requests from when they leave,
// not from when they were due, and costs about twice as much per request.)
func NewTargeter(sc *scenario.Scenario, target string, o scenario.Options) (vegeta.Targeter, error) {
	gen, err := scenario.NewGenerator(sc, target, o)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var m scenario.Message
	return func(tgt *vegeta.Target) error {
		if tgt == nil {
			return vegeta.ErrNilTarget
		}
		mu.Lock()
		defer mu.Unlock()
		if err := gen.Next(&m); err != nil {
			return err
		}
		t := gen.Types[m.Type]
		h := make(http.Header, len(t.Headers)+1)
		for k, v := range t.Headers {
			h.Set(k, v)
		}
		if t.SigHeader != "" {
			h.Set(t.SigHeader, string(m.Sig))
		}
		*tgt = vegeta.Target{Method: t.Method, URL: t.URL.String(), Body: append([]byte(nil), m.Body...), Header: h}
		return nil
	}, nil
}

// WriteVegetaTargets writes n generated requests as vegeta JSON targets (one
// per line), so the same traffic can be replayed with `vegeta attack
// -format=json` for comparison.
func WriteVegetaTargets(w io.Writer, sc *scenario.Scenario, target string, o scenario.Options, n uint64) error {
	tr, err := NewTargeter(sc, target, o)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	var t vegeta.Target
	for i := uint64(0); i < n; i++ {
		if err := tr(&t); err != nil {
			return err
		}
		if err := enc.Encode(&t); err != nil {
			return err
		}
	}
	return bw.Flush()
}
