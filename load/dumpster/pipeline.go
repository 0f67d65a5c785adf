package dumpster

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Pipeline is the demo's platform under test: it accepts the inbound-SMS
// webhook at once, queues the message, and after its type's processing time
// posts the auto-reply to Outbound (the sink, an e2e probe) as an SMS
// vendor's send API would get it, with the inbound MessageSid as InReplyTo.
// Keywords are quick; custom keywords go through one slow serial worker, so
// under load they queue up: the spike the demo's e2e chart shows. Free text
// and reactions wait for a human and get no automatic reply.
type Pipeline struct {
	Outbound string
	// Delay is the processing time of a quick type; Slow that of a custom keyword.
	Delay, Slow time.Duration
	client      *http.Client
	quick, slow chan reply
	dropped     atomic.Uint64
}

type reply struct {
	at           time.Time // when the webhook came
	sid, to, frm string
	body         string
}

// Classify names an inbound message's type from its text, as the users'
// platform does: keywords, custom keywords, reactions, anything else.
func Classify(body string) string {
	word := strings.ToUpper(strings.TrimSpace(body))
	switch word {
	case "START", "YES", "UNSTOP", "SUBSCRIBE":
		return "subscribe"
	case "STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT":
		return "unsubscribe"
	case "HELP":
		return "help"
	case "INFO":
		return "info"
	case "VIP", "DEALS", "JOIN", "BFCM":
		return "custom_keyword"
	}
	for _, r := range []string{"Liked ", "Loved ", "Laughed at ", "Emphasized "} {
		if strings.HasPrefix(body, r) {
			return "reaction"
		}
	}
	return "unrecognized"
}

// Start runs the pipeline's workers until ctx ends.
func (p *Pipeline) Start(ctx context.Context) {
	p.client = &http.Client{Timeout: 10 * time.Second}
	p.quick, p.slow = make(chan reply, 100000), make(chan reply, 100000)
	for range 16 {
		go p.work(ctx, p.quick, func(r reply) { sleepUntil(ctx, r.at.Add(p.Delay)) })
	}
	go p.work(ctx, p.slow, func(reply) { sleepUntil(ctx, time.Now().Add(p.Slow)) })
}

func (p *Pipeline) work(ctx context.Context, in <-chan reply, process func(reply)) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-in:
			process(r)
			p.send(ctx, r)
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) {
	if d := time.Until(t); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
}

// send posts the reply, retrying a sink that is briefly away.
func (p *Pipeline) send(ctx context.Context, r reply) {
	form := url.Values{"To": {r.to}, "From": {r.frm}, "Body": {r.body}, "InReplyTo": {r.sid}}.Encode()
	for try := 0; try < 20 && ctx.Err() == nil; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Outbound, strings.NewReader(form))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := p.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
		}
		sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
	}
}

// ServeHTTP accepts the webhook and queues its reply.
func (p *Pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := r.PostForm
	rep := reply{at: time.Now(), sid: f.Get("MessageSid"), to: f.Get("From"), frm: f.Get("To")}
	q := p.quick
	switch t := Classify(f.Get("Body")); t {
	case "unrecognized", "reaction":
		w.WriteHeader(http.StatusOK)
		return
	case "custom_keyword":
		q, rep.body = p.slow, "Thanks! Your VIP code is on its way."
	default:
		rep.body = "Auto-reply: " + t
	}
	select {
	case q <- rep:
	default:
		p.dropped.Add(1) // a full queue loses the message, as a real one would
	}
	w.WriteHeader(http.StatusOK)
}
