package load_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-tools/stack/load"
	"github.com/stack-tools/stack/load/scenario"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A scenario drives vegeta's own Attacker; its signed requests verify.
func TestScenarioAsVegetaTargeter(t *testing.T) {
	var good, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Header.Get("X-Twilio-Signature") == scenario.TwilioSignature("tok", "http://"+r.Host+r.URL.RequestURI(), r.PostForm) {
			good.Add(1)
		} else {
			bad.Add(1)
		}
	}))
	defer srv.Close()
	tr, err := load.NewTargeter(smsInbound(t), srv.URL+"/sms", scenario.Options{AuthToken: "tok", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	atk := vegeta.NewAttacker(vegeta.Workers(4), vegeta.MaxWorkers(16))
	n := 0
	for res := range atk.Attack(tr, vegeta.ConstantPacer{Freq: 200, Per: time.Second}, 500*time.Millisecond, "sms") {
		if res.Code != 200 {
			t.Errorf("result %d: code %d %s", res.Seq, res.Code, res.Error)
		}
		n++
	}
	if n != 100 || good.Load() != 100 || bad.Load() != 0 {
		t.Errorf("%d results, %d valid and %d invalid signatures; want 100 valid", n, good.Load(), bad.Load())
	}
}
