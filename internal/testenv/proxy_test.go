package testenv

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// startEcho is a line echo server on 127.0.0.1.
func startEcho(t *testing.T) net.Listener {
	t.Helper()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					_, _ = c.Write([]byte(line))
				}
			}()
		}
	}()
	return echo
}

func roundTrip(c net.Conn, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

// A black hole answers nothing on open and new connections but keeps them
// open (a read times out, it is not reset); Heal resets what it swallowed
// and forwards new connections again.
func TestProxyBlackholeHangsAndHeals(t *testing.T) {
	echo := startEcho(t)
	p, err := StartProxy(echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	open, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := roundTrip(open, 10*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Blackhole()
	isTimeout := func(err error) bool {
		ne, ok := err.(net.Error)
		return ok && ne.Timeout()
	}
	if err := roundTrip(open, 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("an open connection in the hole: %v, want a timeout (no answer, no reset)", err)
	}
	fresh, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatalf("a new connection is refused in the hole, want it accepted and left hanging: %v", err)
	}
	defer fresh.Close()
	if err := roundTrip(fresh, 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("a new connection in the hole: %v, want a timeout", err)
	}
	p.Heal()
	if err := roundTrip(fresh, 10*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("a swallowed connection after Heal: %v, want it reset", err)
	}
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, 10*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

// The proxy forwards, cuts open and new connections, and forwards again after
// Restore.
func TestProxyCutsAndRestores(t *testing.T) {
	echo := startEcho(t)
	p, err := StartProxy(echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	open, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := roundTrip(open, 10*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := roundTrip(open, 10*time.Second); err == nil {
		t.Fatal("an open connection survived the cut")
	}
	if c, err := net.Dial("tcp", p.Addr); err == nil {
		if roundTrip(c, 10*time.Second) == nil {
			t.Fatal("a new connection got through a cut proxy")
		}
		c.Close()
	}
	p.Restore()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, 10*time.Second); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
