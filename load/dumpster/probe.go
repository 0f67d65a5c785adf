package dumpster

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stack-tools/stack/load/probe"
)

// ProbeOptions make the sink record what arrives (package probe) and serve
// it to generators on probe.PullPath.
type ProbeOptions struct {
	Name    string // names the probe in reports (default: the listen address)
	Journal string // the journal file; arrivals survive a restart
	// SMTP is a listen address for the mail sink ("" = none); SMTPFile gets
	// its actual address once listening.
	SMTP, SMTPFile string
	// Queue is an SQS queue URL to drain ("" = none).
	Queue string
}

// runProbe serves the probe on l until ctx ends. The pull endpoint's token
// comes from probe.TokenEnv; off loopback one is required.
func runProbe(ctx context.Context, l net.Listener, o ProbeOptions) error {
	token := os.Getenv(probe.TokenEnv)
	if token == "" && !loopback(l.Addr()) {
		return fmt.Errorf("dumpster: --journal on %s (not loopback) needs %s set to a token generators will send", l.Addr(), probe.TokenEnv)
	}
	j, err := probe.OpenJournal(o.Journal)
	if err != nil {
		return fmt.Errorf("dumpster: --journal: %w", err)
	}
	defer j.Close()
	po := probe.Options{Name: o.Name, Journal: j, HTTP: l, Token: token, Queue: o.Queue}
	if po.Name == "" {
		po.Name = l.Addr().String()
	}
	if o.SMTP != "" {
		if po.SMTP, err = net.Listen("tcp", o.SMTP); err != nil {
			return fmt.Errorf("dumpster: --smtp %s: %w", o.SMTP, err)
		}
		fmt.Fprintln(os.Stderr, "dumpster: accepting mail at", po.SMTP.Addr())
		if o.SMTPFile != "" {
			if err := writeFile(o.SMTPFile, po.SMTP.Addr().String()); err != nil {
				return err
			}
			defer os.Remove(o.SMTPFile)
		}
	}
	if o.Queue != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("dumpster: --sqs-queue: loading AWS configuration: %w", err)
		}
		po.SQS = sqs.NewFromConfig(cfg)
	}
	fmt.Fprintf(os.Stderr, "dumpster: probe %s recording to %s (%d arrivals so far)\n", po.Name, o.Journal, j.Len())
	return probe.Serve(ctx, po)
}

func loopback(a net.Addr) bool {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
