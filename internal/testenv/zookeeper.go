package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stack-tools/stack/internal/proc"
)

// ZooKeeper is a standalone ZooKeeper server from Debian's zookeeper package,
// listening on 127.0.0.1. Stop and Start again keep its port and data, so tests
// can simulate an outage.
type ZooKeeper struct {
	dir     string
	port    int
	java    string
	jar     string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// zooKeeperStartTimeout is generous: the JVM starts slowly on a busy 2-core machine.
const zooKeeperStartTimeout = 90 * time.Second

// StartZooKeeper writes a zoo.cfg into dir, starts the server on a free port and
// waits until it answers "ruok". The server's own log goes to dir/zookeeper.log.
//
// It needs java on PATH (or $STACK_TEST_JAVA) and the ZooKeeper jar from
// Debian's zookeeper package (/usr/share/java/zookeeper.jar, or
// $STACK_TEST_ZOOKEEPER_JAR); its manifest's Class-Path names the other jars.
func StartZooKeeper(dir string) (*ZooKeeper, error) {
	java, err := FindBinary("java", "STACK_TEST_JAVA")
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper needs a Java runtime (apt-get install zookeeper pulls one in): %w", err)
	}
	jar := os.Getenv("STACK_TEST_ZOOKEEPER_JAR")
	if jar == "" {
		jar = "/usr/share/java/zookeeper.jar"
	}
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("ZooKeeper jar not found (apt-get install zookeeper, or set STACK_TEST_ZOOKEEPER_JAR): %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{dir: dir, port: port, java: java, jar: jar, logPath: filepath.Join(dir, "zookeeper.log")}
	if err := z.writeConfig(); err != nil {
		return nil, err
	}
	if err := z.Start(); err != nil {
		return nil, err
	}
	return z, nil
}

func (z *ZooKeeper) writeConfig() error {
	data := filepath.Join(z.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	cfg := strings.Join([]string{
		"tickTime=200",
		"minSessionTimeout=400",
		"maxSessionTimeout=60000",
		"dataDir=" + data,
		"clientPort=" + strconv.Itoa(z.port),
		"clientPortAddress=127.0.0.1",
		"admin.enableServer=false",
		"4lw.commands.whitelist=ruok,srvr,stat",
		// A killed test server loses nothing it acknowledged: the page cache survives
		// the process. Skipping fsync keeps tests fast.
		"forceSync=no",
		"",
	}, "\n")
	return os.WriteFile(filepath.Join(z.dir, "zoo.cfg"), []byte(cfg), 0o644)
}

// Start runs the server (again, after Stop) on the same port and data and waits
// until it answers.
func (z *ZooKeeper) Start() error {
	if z.cmd != nil {
		return errors.New("ZooKeeper is already running")
	}
	classpath := z.dir + ":" + z.jar
	// An SLF4J binding keeps the server's log readable instead of a NOP warning.
	for _, binding := range []string{"/usr/share/java/slf4j-simple.jar", "/usr/share/java/slf4j-nop.jar"} {
		if _, err := os.Stat(binding); err == nil {
			classpath += ":" + binding
			break
		}
	}
	logf, err := os.OpenFile(z.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(z.java,
		"-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-Dzookeeper.jmx.log4j.disable=true",
		"-cp", classpath,
		"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(z.dir, "zoo.cfg"))
	cmd.Dir = z.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server must not outlive a test binary that crashes.
	cmd.SysProcAttr = proc.DiesWithParentAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start ZooKeeper: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	z.cmd, z.exited = cmd, exited
	if err := z.waitReady(zooKeeperStartTimeout); err != nil {
		_ = z.Stop()
		return fmt.Errorf("%w (server log: %s)", err, z.logPath)
	}
	return nil
}

// waitReady waits until the server answers the "ruok" four-letter command.
func (z *ZooKeeper) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-z.exited:
			return fmt.Errorf("ZooKeeper exited while starting: %s", z.tailLog())
		default:
		}
		if ruok(z.Addr()) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ZooKeeper on %s did not answer ruok within %s", z.Addr(), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "imok")
}

func (z *ZooKeeper) tailLog() string {
	b, _ := os.ReadFile(z.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop kills the server abruptly, as a crash or network loss would, and waits
// until it is gone and its port is closed. Acknowledged writes survive.
func (z *ZooKeeper) Stop() error {
	if z.cmd == nil {
		return nil
	}
	_ = z.cmd.Process.Kill()
	<-z.exited
	z.cmd, z.exited = nil, nil
	return nil
}

// Addr is the server's client address, host:port.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// LogPath is the server's log file, for test failure messages.
func (z *ZooKeeper) LogPath() string { return z.logPath }
