package testenv

import (
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"time"
)

// NSQD is an nsqd (NSQ's broker) running on 127.0.0.1.
type NSQD struct {
	TCPAddr  string // host:port producers and consumers connect to
	HTTPAddr string // host:port of its HTTP API (/ping, /stats)
	cmd      *exec.Cmd
	done     chan error
}

// StartNSQD starts nsqd with its data under dir, on free ports, and waits
// until it answers /ping. The binary is found with FindBinary("nsqd",
// "NSQD_BIN"); scripts/test builds it into the test cache.
func StartNSQD(dir string) (*NSQD, error) {
	bin, err := FindBinary("nsqd", "NSQD_BIN")
	if err != nil {
		return nil, err
	}
	tcp, err := FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	n := &NSQD{TCPAddr: "127.0.0.1:" + strconv.Itoa(tcp), HTTPAddr: "127.0.0.1:" + strconv.Itoa(httpPort), done: make(chan error, 1)}
	n.cmd = exec.Command(bin, "--tcp-address="+n.TCPAddr, "--http-address="+n.HTTPAddr, "--https-address=",
		"--broadcast-address=127.0.0.1", "--data-path="+dir, "--log-level=warn")
	out := &motoLog{}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-n.done:
			return nil, fmt.Errorf("nsqd exited: %v\n%s", err, out.String())
		default:
		}
		if resp, err := client.Get("http://" + n.HTTPAddr + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			n.Stop()
			return nil, fmt.Errorf("nsqd did not answer /ping in 30s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends nsqd.
func (n *NSQD) Stop() {
	if n == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.done <- nil
}
