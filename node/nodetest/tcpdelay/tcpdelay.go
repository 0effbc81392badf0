// Package tcpdelay is a user-space delay line for tests: a TCP forwarder
// on a loopback address that holds every byte for a one-way delay in
// each direction before passing it on, so that a peer reached through it
// sees a round-trip time of twice that delay on top of loopback's.
//
// It works at the stream level, not the packet level: each side's kernel
// TCP talks to the forwarder over plain loopback, so congestion windows
// and socket buffers do not see the delay (a packet-level delay line
// between network namespaces does). It is meant for tests that need
// latency between many processes on one machine (the mesh of processes)
// and is small so that it can be swapped for a packet-level line.
//
// Every Proxy owns its goroutines; Close stops them and closes every
// connection it carries.
package tcpdelay

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// queueChunks bounds what one direction holds in flight: up to this many
// reads (of at most chunkSize bytes each). A full queue stops reading,
// so the sender's TCP window closes, as a router's full queue would slow
// it.
const (
	queueChunks = 512
	chunkSize   = 32 << 10
)

// DelayFunc gives the one-way delay of a connection accepted from src
// (the dialler's address as the forwarder sees it).
type DelayFunc func(src netip.AddrPort) time.Duration

// Proxy forwards the connections it accepts to a target address, each
// direction delayed by the one-way delay its DelayFunc gives.
type Proxy struct {
	ln     net.Listener
	delay  DelayFunc
	target atomic.Pointer[string]

	accepted atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// Listen starts a proxy on addr (host:port, port 0 for one the kernel
// picks) that forwards to target with the delays of delay.
func Listen(addr, target string, delay DelayFunc) (*Proxy, error) {
	if delay == nil {
		return nil, errors.New("tcpdelay: no delay function")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, delay: delay, conns: map[net.Conn]struct{}{}}
	p.target.Store(&target)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Fixed is a DelayFunc of the same one-way delay for every connection.
func Fixed(d time.Duration) DelayFunc { return func(netip.AddrPort) time.Duration { return d } }

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// SetTarget changes where new connections go (a restarted process that
// listens on a new port); connections already forwarded keep theirs.
func (p *Proxy) SetTarget(target string) { p.target.Store(&target) }

// Accepted is the number of connections the proxy has accepted.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Close stops accepting, closes every connection the proxy carries and
// waits for its goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// track registers c for Close; false if the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		if !p.track(in) {
			in.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(in)
	}
}

func (p *Proxy) serve(in net.Conn) {
	defer p.wg.Done()
	out, err := net.DialTimeout("tcp", *p.target.Load(), 5*time.Second)
	if err != nil || !p.track(out) {
		if out != nil {
			out.Close()
		}
		p.untrack(in)
		return
	}
	var src netip.AddrPort
	if a, ok := in.RemoteAddr().(*net.TCPAddr); ok {
		src = a.AddrPort()
	}
	d := p.delay(src)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipe(out, in, d) }()
	go func() { defer wg.Done(); pipe(in, out, d) }()
	wg.Wait()
	p.untrack(in, out)
}

// chunk is one read, stamped with when it arrived.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each read delivered d after it arrived. At
// src's end it half-closes dst (after the delay, like the data before
// it); on an error it closes both.
func pipe(dst, src net.Conn, d time.Duration) {
	q := make(chan chunk, queueChunks)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(0)
		defer t.Stop()
		<-t.C
		for c := range q {
			if wait := time.Until(c.at.Add(d)); wait > 0 {
				t.Reset(wait)
				<-t.C
			}
			if c.b == nil { // the end of src
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				} else {
					dst.Close()
				}
				continue
			}
			if _, err := dst.Write(c.b); err != nil {
				src.Close()
				dst.Close()
				for range q { // let the reader finish
				}
				return
			}
		}
	}()
	for {
		b := make([]byte, chunkSize)
		n, err := src.Read(b)
		if n > 0 {
			q <- chunk{b: b[:n], at: time.Now()}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				q <- chunk{at: time.Now()}
			} else {
				dst.Close()
			}
			break
		}
	}
	close(q)
	<-done
}
