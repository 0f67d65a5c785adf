package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stack-tools/stack/internal/proc"
)

// Minio is a MinIO server started for tests on 127.0.0.1 with one bucket.
// Kill and Start let a test take the server away and bring it back on the same
// port and data folder.
type Minio struct {
	Endpoint  string // http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string

	bin     string
	dir     string
	addr    string
	console string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been reaped
}

// StartMinio starts MinIO with its data and log under dir and creates a bucket.
func StartMinio(dir string) (*Minio, error) {
	bin, err := FindBinary("minio", "MINIO_BIN")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Minio{
		Bucket:    "stack-test",
		AccessKey: "stacktest",
		SecretKey: randomHex(16),
		Region:    "us-east-1",
		bin:       bin,
		dir:       dir,
		addr:      "127.0.0.1:" + strconv.Itoa(port),
		console:   "127.0.0.1:" + strconv.Itoa(consolePort),
	}
	m.Endpoint = "http://" + m.addr
	if err := m.Start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.CreateBucket(ctx, m.Bucket); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// Start runs the server (again) and waits until it serves requests.
func (m *Minio) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("minio on %s is already running", m.addr)
	}
	if err := os.MkdirAll(filepath.Join(m.dir, "data"), 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(m.dir, "minio.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(m.bin, "server", filepath.Join(m.dir, "data"),
		"--address", m.addr, "--console-address", m.console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"HOME="+m.dir, // MinIO writes ~/.minio; keep it with the test data
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so a test runner's Ctrl-C does not race our Stop.
	cmd.SysProcAttr = proc.OwnGroupAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := waitReady(m.Endpoint, exited, 60*time.Second); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("minio on %s: %w\n%s", m.addr, err, tail(log, 2000))
	}
	m.cmd, m.exited = cmd, exited
	return nil
}

func waitReady(endpoint string, exited <-chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return errors.New("exited before it was ready")
		default:
		}
		resp, err := client.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s (last: %v)", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), as a crash or a network cut would.
func (m *Minio) Kill() error {
	return m.stop(syscall.SIGKILL)
}

// Stop ends the server.
func (m *Minio) Stop() error {
	return m.stop(syscall.SIGTERM)
}

func (m *Minio) stop(sig syscall.Signal) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
	return nil
}

// Restart kills the server and starts it again on the same port and data.
func (m *Minio) Restart() error {
	if err := m.Kill(); err != nil {
		return err
	}
	return m.Start()
}

// Env is the environment a child process (stack, terraform) needs to reach
// this server through the AWS SDK's standard settings.
func (m *Minio) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + m.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + m.SecretKey,
		"AWS_REGION=" + m.Region,
		"AWS_ENDPOINT_URL_S3=" + m.Endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Client returns an S3 client for this server, for test setup and checks.
func (m *Minio) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// CreateBucket creates a bucket (an existing one is fine).
// MinIO can answer /minio/health/ready before its object layer is up (seen on
// a loaded machine): XMinioServerNotInitialized is waited out until ctx ends.
func (m *Minio) CreateBucket(ctx context.Context, name string) error {
	var err error
	for {
		_, err = m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		var code interface{ ErrorCode() string }
		if !errors.As(err, &code) {
			break
		}
		if code.ErrorCode() == "BucketAlreadyOwnedByYou" {
			return nil
		}
		if code.ErrorCode() != "XMinioServerNotInitialized" || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("create bucket %s on %s: %w", name, m.Endpoint, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
