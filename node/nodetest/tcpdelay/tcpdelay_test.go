package tcpdelay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// TestDelayLine: a megabyte goes through and back intact, a round trip
// takes at least twice the one-way delay (a floor the line guarantees by
// construction, not a timing bound), the delay function sees the
// dialler's address, and Close ends every connection.
func TestDelayLine(t *testing.T) {
	const oneWay = 15 * time.Millisecond
	var mu sync.Mutex
	var seen []netip.AddrPort
	p, err := Listen("127.0.0.1:0", echoServer(t), func(src netip.AddrPort) time.Duration {
		mu.Lock()
		seen = append(seen, src)
		mu.Unlock()
		return oneWay
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var min time.Duration
	for i := range 5 {
		start := time.Now()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != byte(i) {
			t.Fatalf("echo %d: %v %v", i, b, err)
		}
		if rtt := time.Since(start); min == 0 || rtt < min {
			min = rtt
		}
	}
	if min < 2*oneWay {
		t.Errorf("round trip %v through a line of %v each way: under %v", min, oneWay, 2*oneWay)
	}
	t.Logf("round trip through the line: %v (one way %v)", min, oneWay)

	data := make([]byte, 1<<20)
	rand.Read(data)
	go func() { c.Write(data) }()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("1 MiB through the line and back: equal %v, %v", bytes.Equal(got, data), err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("delay function saw %v; want the one dialler on 127.0.0.1", seen)
	}
	mu.Unlock()
	if p.Accepted() != 1 {
		t.Errorf("accepted %d connections, want 1", p.Accepted())
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection still reads after Close")
	}
}

// TestHalfClose: the end of one direction reaches the other side after
// the data before it, and the other direction still works.
func TestHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's half-close
		c.Write([]byte("ok"))
		res <- b
	}()
	p, err := Listen("127.0.0.1:0", ln.Addr().String(), Fixed(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	ans, err := io.ReadAll(c)
	if got := <-res; string(got) != "hello" || string(ans) != "ok" || err != nil {
		t.Fatalf("server got %q, client got %q (%v)", got, ans, err)
	}
}
