package dumpster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/stack-tools/stack/internal/ascii"
)

// ServeRaw is a minimal HTTP/1.1 sink for benchmarks: it reads requests with
// Content-Length bodies (keep-alive, pipelining), discards them and answers
// 200 with an empty body, at a fraction of net/http's cost per request, so a
// load generator pinned next to it is what limits a benchmark, not the sink.
// Anything else (chunked bodies, malformed requests) gets 400 and a close.
func (s *Server) ServeRaw(ctx context.Context, l net.Listener) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	go func() {
		<-ctx.Done()
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.rawConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

var (
	rawOK  = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	rawBad = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

func (s *Server) rawConn(c net.Conn) {
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 4<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		if !bytes.Contains(line, []byte(" HTTP/1.")) {
			bw.Write(rawBad)
			bw.Flush()
			return
		}
		length, closeAfter := int64(0), bytes.HasSuffix(bytes.TrimSpace(line), []byte("HTTP/1.0"))
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(h) <= 2 {
				break
			}
			name, value, _ := bytes.Cut(h, []byte{':'})
			value = bytes.TrimSpace(value)
			switch {
			case ascii.EqualFold(name, "content-length"):
				if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
					bw.Write(rawBad)
					bw.Flush()
					return
				}
			case ascii.EqualFold(name, "transfer-encoding"):
				bw.Write(rawBad)
				bw.Flush()
				return
			case ascii.EqualFold(name, "connection"):
				closeAfter = ascii.EqualFold(value, "close")
			}
		}
		if _, err := br.Discard(int(length)); err != nil {
			return
		}
		s.requests.Add(1)
		s.bytes.Add(uint64(length))
		bw.Write(rawOK)
		// Answer pipelined requests together: flush only when none is waiting.
		if br.Buffered() == 0 || closeAfter {
			if bw.Flush() != nil || closeAfter {
				return
			}
		}
	}
}
