package zookeeper

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/go-zookeeper/zk"
)

// A request caught by a connection that dies gets the socket's error from
// go-zookeeper, not ErrConnectionClosed; the handler must retry it like any
// other connection loss instead of failing with "write: broken pipe".
func TestSocketErrorsAreRetried(t *testing.T) {
	for _, err := range []error{
		&net.OpError{Op: "write", Net: "tcp", Err: &net.OpError{Err: syscall.EPIPE}},
		&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET},
		io.EOF,
		fmt.Errorf("multi: %w", zk.ErrConnectionClosed),
	} {
		if !transient(err) {
			t.Errorf("%v is not retried", err)
		}
	}
	for _, err := range []error{zk.ErrNoAuth, zk.ErrBadVersion, fmt.Errorf("other")} {
		if transient(err) {
			t.Errorf("%v is retried, but ZooKeeper answered", err)
		}
	}
}
