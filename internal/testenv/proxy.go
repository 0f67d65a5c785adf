package testenv

import (
	"net"
	"sync"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a test server, so a test can
// break the network between the code under test and the server (the server
// keeps running, as in a real partition) and mend it.
//
// It breaks the network in two ways. Cut resets every connection and refuses
// new ones: the client learns at once, as when a route is withdrawn. Blackhole
// forwards nothing and answers nothing while keeping every connection open,
// new ones included: the client's requests are sent and never answered, as
// when packets are dropped on the way, and it learns only from its own
// timeouts. Heal ends a black hole: the connections it swallowed are reset (TCP
// gave up on them; nothing sent into the hole arrives late), new ones forward.
type Proxy struct {
	Addr   string // host:port clients connect to
	target string
	ln     net.Listener

	mu        sync.Mutex
	cut       bool
	refused   int // connections refused while cut
	hole      bool
	conns     map[net.Conn]struct{}
	swallowed map[net.Conn]struct{} // client sides of connections in the hole
	wg        sync.WaitGroup
}

// StartProxy forwards connections on a free port to target (host:port).
func StartProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln,
		conns: map[net.Conn]struct{}{}, swallowed: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case p.cut:
			p.refused++
			p.mu.Unlock()
			reset(c)
			continue
		case p.hole:
			p.swallowed[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Add(1)
			go p.sink(c)
			continue
		}
		p.track(c)
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c)
	}
}

// sink reads and drops what a client sends into the hole, so its writes
// succeed and it waits for an answer that never comes.
func (p *Proxy) sink(c net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		p.drop(c)
		reset(up)
		return
	}
	p.track(up)
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c, c); done <- struct{}{} }()
	go func() { p.pipe(c, up, c); done <- struct{}{} }()
	<-done // one side ended: end both
	p.drop(c)
	p.drop(up)
	<-done
}

// pipe copies src to dst until either ends, dropping what it reads while
// client's connection is in a black hole.
func (p *Proxy) pipe(dst, src, client net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isSwallowed(client) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) isSwallowed(client net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.swallowed[client]
	return ok
}

// track must be called with p.mu held.
func (p *Proxy) track(c net.Conn) { p.conns[c] = struct{}{} }

func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	reset(c)
}

// reset closes a connection at once with an RST, as a dropped network does to
// whoever still writes, instead of a polite FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// Cut resets every open connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		reset(c)
	}
}

// Refused counts the connections refused while cut, so a test can wait for
// a client to have met the failure (a count, not a time).
func (p *Proxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Blackhole stops forwarding in both directions while keeping every
// connection, open or new, hanging, until Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hole = true
	for c := range p.conns {
		p.swallowed[c] = struct{}{} // both sides of a pair share the mark through the client side
	}
}

// Heal ends a black hole: the connections it swallowed are reset, new ones
// are forwarded.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.hole = false
	gone := p.swallowed
	p.swallowed = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range gone {
		reset(c)
	}
}

// Close stops the proxy and ends every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.Heal()
	p.Cut()
	p.wg.Wait()
}
