package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Moto is a moto_server (Python moto's AWS emulator) running on 127.0.0.1.
type Moto struct {
	cmd      *exec.Cmd
	endpoint string
	out      *motoLog
	done     chan error
}

// StartMoto starts moto_server on a free loopback port and waits until it answers.
// The binary is found with FindBinary("moto_server", "MOTO_SERVER").
func StartMoto() (*Moto, error) { return startMoto(nil) }

// StartMotoEnforcingIAM starts a moto_server that checks IAM permissions after
// the first freeActions requests (which set up users and fixtures), so tests
// can meet AccessDenied as a user with too few permissions would.
func StartMotoEnforcingIAM(freeActions int) (*Moto, error) {
	return startMoto([]string{"INITIAL_NO_AUTH_ACTION_COUNT=" + strconv.Itoa(freeActions)})
}

func startMoto(env []string) (*Moto, error) {
	bin, err := FindBinary("moto_server", "MOTO_SERVER")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Moto{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		out:      &motoLog{},
		done:     make(chan error, 1),
	}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if env != nil {
		m.cmd.Env = append(os.Environ(), env...)
	}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	if err := m.waitReady(30 * time.Second); err != nil {
		m.Stop()
		return nil, fmt.Errorf("moto_server did not become ready: %w\n%s", err, m.out.String())
	}
	return m, nil
}

// waitReady polls moto's own API until it answers: the port opens before the
// server can handle requests.
func (m *Moto) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("moto_server exited: %v", err)
		default:
		}
		resp, err := client.Get(m.endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Endpoint is the server's base URL, for example http://127.0.0.1:41234.
func (m *Moto) Endpoint() string { return m.endpoint }

// Env is the environment a child process (or the AWS SDK's default config
// loader) needs to talk to this server with dummy credentials.
func (m *Moto) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + m.endpoint,
		"AWS_ENDPOINT_URL_RDS=" + m.endpoint,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION=us-east-1",
		// Keep the SDK away from ~/.aws and the EC2 metadata service.
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Reset drops every resource moto holds, so tests start from an empty account.
func (m *Moto) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s", resp.Status)
	}
	return nil
}

// Output is what the server printed so far, for failure messages.
func (m *Moto) Output() string { return m.out.String() }

// Stop ends the server and waits for it to exit.
func (m *Moto) Stop() {
	if m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
	}
}

// motoLog collects the server's output written from another goroutine.
type motoLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *motoLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *motoLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
