package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Options run a probe: an HTTP sink and pull endpoint on HTTP, and
// optionally a mail sink on SMTP and a reader draining an SQS queue, all
// recording into one journal.
type Options struct {
	Name    string
	Journal *Journal
	HTTP    net.Listener
	SMTP    net.Listener
	// SQS and Queue: drain this queue (SQSWait is the long-poll time, 1s default).
	SQS     SQSClient
	Queue   string
	SQSWait time.Duration
	// Token guards the pull endpoint ("" leaves it open: loopback only).
	Token string
}

// Serve runs the probe until ctx ends or a part of it fails.
func Serve(ctx context.Context, o Options) error {
	if o.Journal == nil || o.HTTP == nil {
		return errors.New("probe: a journal and an HTTP listener are required")
	}
	rec := &Recorder{Name: o.Name, Journal: o.Journal}
	mux := http.NewServeMux()
	mux.Handle(PullPath, PullHandler(o.Journal, o.Token))
	mux.Handle("/", rec)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	parts := 1
	go func() {
		err := srv.Serve(o.HTTP)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errs <- err
	}()
	if o.SMTP != nil {
		parts++
		go func() { errs <- rec.ServeSMTP(ctx, o.SMTP) }()
	}
	if o.SQS != nil {
		parts++
		wait := o.SQSWait
		if wait == 0 {
			wait = time.Second
		}
		go func() { errs <- rec.DrainSQS(ctx, o.SQS, o.Queue, wait) }()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
		parts--
	}
	cancel()
	sctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	srv.Shutdown(sctx)
	for ; parts > 0; parts-- {
		if err := <-errs; first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("probe %s: %w", o.Name, first)
	}
	return nil
}
