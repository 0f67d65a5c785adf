package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/smtp"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// pipeline is the platform under test: it accepts the webhook (id and type
// in a form body), answers at once, and after its type's delay delivers the
// outbound message: "hook" as an HTTP POST, "mail" by SMTP (net/smtp),
// "queue" to SQS, "quiet" nowhere. It drops every dropEvery-th hook and
// delivers every dupEvery-th mail twice, and remembers which ids.
type pipeline struct {
	delay     map[string]time.Duration
	hookURL   string
	smtpAddr  string
	sqs       *sqs.Client
	queue     string
	dropEvery int
	dupEvery  int
	// giveUp is how many times a delivery is tried (default 2000, 20ms apart).
	giveUp int
	// bySender: hooks carry the sender's number (form field To), not the id,
	// as an SMS auto-reply does.
	bySender bool
	// afterHook, when set, is called after each hook delivery with the count so far.
	afterHook func(n int)

	mu                     sync.Mutex
	hooks, mails, hookDone int
	dropped, duplicated    map[string]bool
	delivered              map[string]int
	wg                     sync.WaitGroup
	deliveryErrs           int
}

func (p *pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, typ := r.PostForm.Get("id"), r.PostForm.Get("type")
	ref := id
	if p.bySender {
		ref = r.PostForm.Get("from")
	}
	copies := 1
	p.mu.Lock()
	switch typ {
	case "hook":
		if p.hooks++; p.dropEvery > 0 && p.hooks%p.dropEvery == 0 {
			p.dropped[id] = true
			copies = 0
		}
	case "mail":
		if p.mails++; p.dupEvery > 0 && p.mails%p.dupEvery == 0 {
			p.duplicated[id] = true
			copies = 2
		}
	case "quiet":
		copies = 0
	}
	p.mu.Unlock()
	p.wg.Add(1)
	time.AfterFunc(p.delay[typ], func() {
		defer p.wg.Done()
		for range copies {
			p.deliver(typ, id, ref)
		}
	})
	w.WriteHeader(http.StatusOK)
}

// deliver retries until the far end takes the message (a probe may be down).
func (p *pipeline) deliver(typ, id, ref string) {
	for try := 0; ; try++ {
		err := p.send(typ, ref)
		if err == nil {
			p.mu.Lock()
			p.delivered[id]++
			if typ == "hook" {
				p.hookDone++
			}
			n := p.hookDone
			p.mu.Unlock()
			if typ == "hook" && p.afterHook != nil {
				p.afterHook(n)
			}
			return
		}
		p.mu.Lock()
		p.deliveryErrs++
		p.mu.Unlock()
		if p.giveUp > 0 && try >= p.giveUp || try > 2000 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *pipeline) send(typ, id string) error {
	ctx := context.Background()
	switch typ {
	case "hook":
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.hookURL, bytes.NewBufferString("To="+url.QueryEscape(id)+"&Body=Thanks"))
		req.Header.Set("X-Ref", id)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("probe: %s", resp.Status)
		}
		return nil
	case "mail":
		msg := "From: pipeline@example.com\r\nTo: sink@example.com\r\nSubject: reply\r\n\r\nYour message ref=" + id + " was handled.\r\n"
		return smtp.SendMail(p.smtpAddr, nil, "pipeline@example.com", []string{"sink@example.com"}, []byte(msg))
	case "queue":
		_, err := p.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.queue),
			MessageBody: aws.String(`{"ref": "` + id + `", "status": "done"}`),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"kind": {DataType: aws.String("String"), StringValue: aws.String(typ)}}})
		return err
	}
	return nil
}

func newPipeline() *pipeline {
	return &pipeline{dropped: map[string]bool{}, duplicated: map[string]bool{}, delivered: map[string]int{}}
}
