package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/stack-tools/stack/internal/ascii"
	"github.com/stack-tools/stack/load/scenario"
)

// sender sends one message and reports the response status and bytes read.
type sender interface {
	send(ctx context.Context, m *scenario.Message, deadline time.Time) (code int, in int64, err error)
	// warm opens a connection ahead of the first request; failing is fine
	// (the first send reports the error).
	warm(ctx context.Context, deadline time.Time)
	close()
}

// requestHead is the fixed start of a type's HTTP/1.1 request.
type requestHead struct {
	head      []byte // request line, Host and the type's static headers
	sigHeader []byte // "Name: " of the signature header, or nil
	method    string
}

func newRequestHeads(types []scenario.RequestType) []requestHead {
	out := make([]requestHead, len(types))
	for i, t := range types {
		var b []byte
		b = append(b, t.Method...)
		b = append(b, ' ')
		b = append(b, t.URL.RequestURI()...)
		b = append(b, " HTTP/1.1\r\nHost: "...)
		b = append(b, t.URL.Host...)
		b = append(b, "\r\nUser-Agent: stack-load\r\n"...)
		for k, v := range t.Headers {
			b = append(b, http.CanonicalHeaderKey(k)...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
		out[i] = requestHead{head: b, method: t.Method}
		if t.SigHeader != "" {
			out[i].sigHeader = []byte(t.SigHeader + ": ")
		}
	}
	return out
}

// largeBody is the size above which a body is written without copying it.
const largeBody = 16 << 10

// h1Conn is a minimal keep-alive HTTP/1.1 client on one connection, owned by one
// worker: one write per request, no goroutine hand-offs, no per-request
// allocation. It is what lets one core drive more requests than net/http's
// client (see bench/load). HTTPS targets use net/http instead (stdSender).
type h1Conn struct {
	addr  string
	heads []requestHead
	dial  *net.Dialer
	reg   *connRegistry
	conn  net.Conn
	br    *bufio.Reader
	wbuf  []byte
	used  bool // the connection carried a request before
}

func (c *h1Conn) warm(ctx context.Context, deadline time.Time) {
	if c.conn == nil {
		_ = c.dialConn(ctx, deadline)
	}
}

func (c *h1Conn) dialConn(ctx context.Context, deadline time.Time) error {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	conn, err := c.dial.DialContext(dctx, "tcp", c.addr)
	cancel()
	if err != nil {
		return err
	}
	c.conn = conn
	c.reg.add(conn)
	c.used = false
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 8192)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *h1Conn) close() {
	if c.conn != nil {
		c.reg.remove(c.conn)
		c.conn.Close()
		c.conn = nil
	}
}

func (c *h1Conn) send(ctx context.Context, m *scenario.Message, deadline time.Time) (int, int64, error) {
	h := &c.heads[m.Type]
	b := append(c.wbuf[:0], h.head...)
	if h.sigHeader != nil {
		b = append(b, h.sigHeader...)
		b = append(b, m.Sig...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(m.Body)), 10)
	b = append(b, "\r\n\r\n"...)
	// Small bodies go out with the head in one write; large ones are not copied
	// (one writev of head and body).
	var body []byte
	if len(m.Body) <= largeBody {
		b = append(b, m.Body...)
	} else {
		body = m.Body
	}
	c.wbuf = b
	for attempt := 0; ; attempt++ {
		reused := c.conn != nil && c.used
		code, in, got, err := c.roundTrip(ctx, b, body, h.method, deadline)
		if err == nil {
			return code, in, nil
		}
		c.close()
		// A kept-alive connection the server closed while idle fails before any
		// response byte: send again once on a new connection, as net/http does.
		if attempt == 0 && reused && !got && ctx.Err() == nil && time.Now().Before(deadline) {
			continue
		}
		return 0, in, err
	}
}

// roundTrip writes one request and reads its response; got says whether any
// response byte arrived.
func (c *h1Conn) roundTrip(ctx context.Context, req, body []byte, method string, deadline time.Time) (code int, in int64, got bool, err error) {
	if c.conn == nil {
		if err := c.dialConn(ctx, deadline); err != nil {
			return 0, 0, false, err
		}
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		return 0, 0, false, err
	}
	if body == nil {
		_, err = c.conn.Write(req)
	} else {
		bufs := net.Buffers{req, body}
		_, err = bufs.WriteTo(c.conn)
	}
	if err != nil {
		return 0, 0, false, err
	}
	c.used = true
	keep := true
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, in, in > 0, err
		}
		in += int64(len(line))
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return 0, in, true, fmt.Errorf("malformed response status line %q", bytes.TrimSpace(line))
		}
		code, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, in, true, fmt.Errorf("malformed response status line %q", bytes.TrimSpace(line))
		}
		if line[7] == '0' {
			keep = false // HTTP/1.0 closes unless told otherwise; do not bother
		}
		length, chunked := int64(-1), false
		for {
			line, err := c.br.ReadSlice('\n')
			if err != nil {
				return 0, in, true, err
			}
			in += int64(len(line))
			if len(line) <= 2 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte{':'})
			if !ok {
				continue
			}
			value = bytes.TrimSpace(value)
			switch {
			case ascii.EqualFold(name, "content-length"):
				length, err = strconv.ParseInt(string(value), 10, 64)
				if err != nil {
					return 0, in, true, fmt.Errorf("malformed Content-Length %q", value)
				}
			case ascii.EqualFold(name, "transfer-encoding"):
				chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
			case ascii.EqualFold(name, "connection"):
				if ascii.EqualFold(value, "close") {
					keep = false
				}
			}
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // informational; the real response follows
		}
		var n int64
		switch {
		case method == http.MethodHead || code == 204 || code == 304:
		case chunked:
			n, err = c.discardChunked()
		case length >= 0:
			var d int
			d, err = c.br.Discard(int(length))
			n = int64(d)
		default:
			keep = false
			n, err = io.Copy(io.Discard, c.br)
		}
		in += n
		if err != nil {
			return 0, in, true, err
		}
		if !keep {
			c.close()
		}
		return code, in, true, nil
	}
}

func (c *h1Conn) discardChunked() (int64, error) {
	var total int64
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		total += int64(len(line))
		sizeText, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte{';'})
		size, err := strconv.ParseInt(string(sizeText), 16, 64)
		if err != nil {
			return total, fmt.Errorf("malformed chunk size %q", sizeText)
		}
		if size == 0 {
			for { // trailers up to the empty line
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				total += int64(len(line))
				if len(line) <= 2 {
					return total, nil
				}
			}
		}
		d, err := c.br.Discard(int(size) + 2)
		total += int64(d)
		if err != nil {
			return total, err
		}
	}
}

// connRegistry lets an abort close every open connection at once.
type connRegistry struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

func (r *connRegistry) add(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		c.SetDeadline(time.Now())
	}
	r.conns[c] = struct{}{}
}

func (r *connRegistry) remove(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// abort makes every pending read or write on every connection fail now.
func (r *connRegistry) abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	for c := range r.conns {
		c.SetDeadline(time.Now())
	}
}

// stdSender uses net/http: HTTPS with HTTP/2 when the target offers it.
type stdSender struct {
	client *http.Client
	types  []scenario.RequestType
	buf    []byte
}

func newStdTransport(maxConns int, insecure bool, timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // load goes straight to the target
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: timeout,
		DisableCompression:  true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: insecure}, //nolint:gosec // only with --insecure
	}
}

func (s *stdSender) close() {}

func (s *stdSender) warm(context.Context, time.Time) {}

func (s *stdSender) send(ctx context.Context, m *scenario.Message, deadline time.Time) (int, int64, error) {
	t := &s.types[m.Type]
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, t.Method, t.URL.String(), bytes.NewReader(m.Body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("User-Agent", "stack-load")
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	if t.SigHeader != "" {
		req.Header.Set(t.SigHeader, string(m.Sig))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	if s.buf == nil {
		s.buf = make([]byte, 8192)
	}
	n, err := io.CopyBuffer(io.Discard, resp.Body, s.buf)
	return resp.StatusCode, n, err
}
