package node_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/nettest/delayline"
)

type wanAdmitAll struct{}

func (wanAdmitAll) Admit(peer.ID) error { return nil }

// TestWANQUICInNamespaces: two hosts with mesh.WithQUIC, each inside one
// side of a delay line (mesh.WithSockets), connect over QUIC and carry a
// stream, the dialer sending from the UDP socket it listens on. Before
// every UDP socket and the dialer's route were made inside the namespace,
// libp2p's QUIC made its dial socket outside it and every dial timed out.
func TestWANQUICInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and TUN devices")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) is needed: %v", err)
	}
	line, err := delayline.New(delayline.Config{Delay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer line.Close()
	start := func(ns *delayline.Netns, addr string, full bool) host.Host {
		priv, _, err := lcrypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		g := mesh.NewGater(wanAdmitAll{}, slog.New(slog.DiscardHandler), nil, false)
		h, err := mesh.NewHost(priv, []string{fmt.Sprintf("/ip4/%s/udp/0/quic-v1", addr)}, "", g, wanAdmitAll{},
			mesh.WithSockets(ns.Do), mesh.WithQUIC(full))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	a := start(line.A, delayline.AddrA.String(), false)
	b := start(line.B, delayline.AddrB.String(), true)
	a.SetStreamHandler("/courtmesh-test/echo/1", func(s network.Stream) {
		defer s.Close()
		io.Copy(s, s)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err != nil {
		t.Fatalf("connect over QUIC between the namespaces: %v", err)
	}
	conns := b.Network().ConnsToPeer(a.ID())
	if len(conns) != 1 {
		t.Fatalf("%d connections", len(conns))
	}
	c := conns[0]
	if tr := c.ConnState().Transport; tr != "quic-v1" {
		t.Fatalf("transport %q, want quic-v1", tr)
	}
	// The dial went out of the socket b listens on (reuse: one socket,
	// the namespace's route asked from inside it).
	local, listened := c.LocalMultiaddr(), b.Network().ListenAddresses()
	if len(listened) != 1 || !local.Equal(listened[0]) {
		t.Errorf("dialed from %v, listening on %v: the dial made a socket of its own", local, listened)
	}
	s, err := b.NewStream(ctx, a.ID(), "/courtmesh-test/echo/1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() {
		s.Write(msg)
		s.CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(msg) {
		t.Fatalf("echo: %d bytes back of %d, or different", len(got), len(msg))
	}
}
