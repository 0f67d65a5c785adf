package load

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"

	"github.com/stack-tools/stack/load/scenario"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// WriteVegetaTargets writes n generated requests as vegeta JSON targets (one
// per line), so the same traffic can be replayed with `vegeta attack
// -format=json` for comparison.
func WriteVegetaTargets(w io.Writer, sc *scenario.Scenario, target string, o scenario.Options, n uint64) error {
	gen, err := scenario.NewGenerator(sc, target, o)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	var m scenario.Message
	for i := uint64(0); i < n; i++ {
		if err := gen.Next(&m); err != nil {
			return err
		}
		t := gen.Types[m.Type]
		h := http.Header{}
		for k, v := range t.Headers {
			h.Set(k, v)
		}
		if t.SigHeader != "" {
			h.Set(t.SigHeader, string(m.Sig))
		}
		if err := enc.Encode(vegeta.Target{Method: t.Method, URL: t.URL.String(), Body: m.Body, Header: h}); err != nil {
			return err
		}
	}
	return bw.Flush()
}
