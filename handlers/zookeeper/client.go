package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// The failures a user must tell apart; each error the handler returns wraps
// exactly one of them (test with errors.Is) and says what to do.
var (
	ErrUnreachable    = errors.New("ZooKeeper unreachable")
	ErrSessionExpired = errors.New("ZooKeeper session expired")
	ErrAuth           = errors.New("ZooKeeper authentication failed")
	ErrConflict       = errors.New("ZooKeeper nodes changed concurrently")
)

// errNoSession: the client did not get a session before the retry deadline.
var errNoSession = errors.New("no ZooKeeper session")

// session is one ZooKeeper connection for one handler call.
type session struct {
	conn     *zk.Conn
	hosts    string
	user     string
	deadline time.Time // transient errors are retried until then
	retry    time.Duration
	stop     func() bool
}

type logWriter struct{ w io.Writer }

func (l logWriter) Printf(format string, args ...any) {
	fmt.Fprintf(l.w, "zookeeper: "+format+"\n", args...)
}

// dial connects and authenticates, retrying until the deadline.
func dial(ctx context.Context, servers []string, hosts string, creds *credentials, o Options, log io.Writer) (*session, error) {
	conn, _, err := zk.Connect(servers, o.SessionTimeout, zk.WithLogger(logWriter{log}), zk.WithLogInfo(false))
	if err != nil {
		return nil, unreachable(hosts, o.RetryTimeout, err)
	}
	s := &session{conn: conn, hosts: hosts, deadline: time.Now().Add(o.RetryTimeout), retry: o.RetryTimeout}
	// Closing the connection fails every pending request, so a cancelled
	// context never waits for ZooKeeper.
	s.stop = context.AfterFunc(ctx, conn.Close)
	if err := s.waitSession(ctx); err != nil {
		s.close()
		if errors.Is(err, errNoSession) {
			return nil, unreachable(hosts, o.RetryTimeout, err)
		}
		return nil, err
	}
	if creds != nil {
		s.user = creds.user
		if err := conn.AddAuth("digest", []byte(creds.user+":"+creds.password)); err != nil {
			s.close()
			if errors.Is(err, zk.ErrAuthFailed) {
				return nil, fmt.Errorf("%w: ZooKeeper at %s rejected the credentials for user %q (AuthFailed); check STACK_ZOOKEEPER_AUTH or the auth file: %w", ErrAuth, hosts, creds.user, err)
			}
			return nil, s.explain(ctx, err, "login")
		}
	}
	return s, nil
}

func (s *session) close() {
	s.stop()
	s.conn.Close()
}

// waitSession waits until the connection has a session, up to the deadline.
func (s *session) waitSession(ctx context.Context) error {
	for {
		switch s.conn.State() {
		case zk.StateHasSession:
			return nil
		case zk.StateAuthFailed:
			return fmt.Errorf("%w: ZooKeeper at %s rejected this client's authentication (AuthFailed); check STACK_ZOOKEEPER_AUTH or the auth file", ErrAuth, s.hosts)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(s.deadline) {
			return fmt.Errorf("%w (connection state %s)", errNoSession, s.conn.State())
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// read returns what the tree holds at each path.
func (s *session) read(paths []string) (map[string]*znode, error) {
	state := make(map[string]*znode, len(paths))
	for _, p := range paths {
		n := &znode{}
		data, stat, err := s.conn.Get(p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			state[p] = n
			continue
		case errors.Is(err, zk.ErrNoAuth):
			exists, st, err := s.conn.Exists(p)
			if err != nil {
				return nil, opError(err, p)
			}
			n.exists, n.noAuth = exists, true
			if st != nil {
				n.stat = *st
				if st.NumChildren > 0 {
					// Unreadable children still keep the node in place.
					n.children = []string{"(children this identity cannot list)"}
				}
			}
			state[p] = n
			continue
		case err != nil:
			return nil, opError(err, p)
		}
		n.exists, n.data, n.stat = true, data, *stat
		if n.acl, _, err = s.conn.GetACL(p); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return nil, opError(err, p)
		}
		if stat.NumChildren > 0 {
			if n.children, _, err = s.conn.Children(p); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return nil, opError(err, p)
			}
		}
		state[p] = n
	}
	return state, nil
}

// multi runs the transaction's operations as one transaction.
func (s *session) multi(p *txn) ([]zk.MultiResponse, error) {
	res, err := s.conn.Multi(p.ops...)
	if err == nil {
		return res, nil
	}
	// The first known error names the operation that failed; the others only
	// say the transaction was rolled back.
	for i, r := range res {
		if r.Error != nil && isZKError(r.Error) {
			return nil, opError(r.Error, p.opPaths[i])
		}
	}
	return nil, opError(err, "")
}

// pathError carries the znode an operation failed on.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

func opError(err error, path string) error {
	if path == "" {
		return err
	}
	return &pathError{path: path, err: err}
}

func isZKError(err error) bool {
	for _, known := range []error{zk.ErrNoNode, zk.ErrNoAuth, zk.ErrBadVersion, zk.ErrNodeExists,
		zk.ErrNotEmpty, zk.ErrSessionExpired, zk.ErrInvalidACL, zk.ErrAuthFailed, zk.ErrClosing,
		zk.ErrSessionMoved, zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrAPIError, zk.ErrBadArguments} {
		if errors.Is(err, known) {
			return true
		}
	}
	return false
}

// transient errors go away by themselves: the client reconnects (and opens a
// new session after expiry), and the handler plans again from what it reads.
//
// A request caught by a dying connection gets the socket's own error instead
// of ErrConnectionClosed (go-zookeeper passes on "write: broken pipe",
// "connection reset by peer" or EOF), so network errors count as transient too.
func transient(err error) bool {
	for _, t := range []error{zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrSessionExpired, zk.ErrSessionMoved, zk.ErrClosing,
		io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, syscall.EPIPE, syscall.ECONNRESET, syscall.ECONNREFUSED, os.ErrDeadlineExceeded} {
		if errors.Is(err, t) {
			return true
		}
	}
	var op *net.OpError
	return errors.As(err, &op)
}

// conflict errors mean another client changed the tree between read and write.
func conflict(err error) bool {
	for _, c := range []error{zk.ErrNodeExists, zk.ErrNoNode, zk.ErrBadVersion, zk.ErrNotEmpty} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// explain turns a ZooKeeper error into one that says what happened and what to do.
func (s *session) explain(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("zookeeper %s interrupted: %w", what, ctx.Err())
	}
	var pe *pathError
	path := ""
	if errors.As(err, &pe) {
		path = pe.path
	}
	switch {
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrAuth), errors.Is(err, ErrOwnedByOther), errors.Is(err, ErrSessionExpired):
		return err
	case errors.Is(err, zk.ErrSessionExpired):
		return fmt.Errorf("%w: the connection to %s was lost for longer than the session timeout and did not recover; the %s is one transaction, so nothing partial was written: run `stack rerun-step` once ZooKeeper is stable: %w", ErrSessionExpired, s.hosts, what, err)
	case errors.Is(err, zk.ErrNoAuth):
		return authError(path, err)
	case errors.Is(err, zk.ErrAuthFailed):
		return fmt.Errorf("%w: ZooKeeper at %s rejected the credentials for user %q (AuthFailed); check STACK_ZOOKEEPER_AUTH or the auth file: %w", ErrAuth, s.hosts, s.user, err)
	case transient(err):
		return unreachable(s.hosts, s.retry, err)
	case conflict(err):
		return fmt.Errorf("%w: another client changed %s while this stack was writing; nothing was written (the %s is one transaction): run the step again: %w", ErrConflict, path, what, err)
	}
	return fmt.Errorf("zookeeper %s at %s failed: %w", what, s.hosts, err)
}

func unreachable(hosts string, after time.Duration, err error) error {
	when := ""
	if after > 0 {
		when = " within " + after.String()
	}
	host := strings.Split(hosts, ",")[0]
	return fmt.Errorf("%w: no session with %s%s (%w): check the address given with --zookeeper or STACK_ZOOKEEPER and that the server runs and is reachable from here (echo srvr | nc %s); a publish is one transaction, so nothing partial is left: run `stack rerun-step` when it is back",
		ErrUnreachable, hosts, when, err, strings.Replace(host, ":", " ", 1))
}

func authError(path string, err error) error {
	msg := fmt.Sprintf("%s: ZooKeeper denied access (NoAuth): the node's ACL does not grant this client's identity; set STACK_ZOOKEEPER_AUTH (or the auth file) to the user:password this stack published with", path)
	if err == nil {
		return fmt.Errorf("%w: %s", ErrAuth, msg)
	}
	return fmt.Errorf("%w: %s: %w", ErrAuth, msg, err)
}

func ownedError(path string) error {
	return fmt.Errorf("%w: %s already exists and was not published by this stack, and it holds a different value or ACL; give this stack a \"root\" of its own (the default is /stack/<stack name>), or delete the node if it is stale", ErrOwnedByOther, path)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
