package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// findCanaries returns the labels of the tokens found in b, each with a
// little context.
func findCanaries(tokens []canary, b []byte) []string {
	var out []string
	for _, c := range tokens {
		for _, f := range forms(c.value) {
			if i := bytes.Index(b, []byte(f)); i >= 0 {
				lo, hi := max(0, i-60), min(len(b), i+len(f)+60)
				ctx := strings.ReplaceAll(strings.ToValidUTF8(string(b[lo:hi]), "?"), "\n", "⏎")
				out = append(out, fmt.Sprintf("%s (%q in …%s…)", c.label, f, ctx))
				break
			}
		}
	}
	return out
}

// channels collects what each channel carried, by channel name.
type channels struct {
	mu   sync.Mutex
	data map[string][][]byte
}

func (c *channels) add(name string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data == nil {
		c.data = map[string][][]byte{}
	}
	c.data[name] = append(c.data[name], bytes.Clone(b))
}

func (c *channels) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.data[name])
}

// gossipTap records the data of every gossipsub message the tap node
// receives or sends, by topic.
type gossipTap struct {
	ch     *channels
	mu     sync.Mutex
	topics map[string]int
}

func (g *gossipTap) rpc(rpc *pubsub.RPC) {
	for _, m := range rpc.GetPublish() {
		g.mu.Lock()
		g.topics[m.GetTopic()]++
		g.mu.Unlock()
		g.ch.add("gossip "+m.GetTopic(), m.GetData())
	}
}

func (g *gossipTap) byTopic() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.topics {
		out[k] = v
	}
	return out
}

func (g *gossipTap) AddPeer(peer.ID, protocol.ID)                         {}
func (g *gossipTap) RemovePeer(peer.ID)                                   {}
func (g *gossipTap) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (g *gossipTap) OnClosedOutboundStream(peer.ID)                       {}
func (g *gossipTap) Join(string)                                          {}
func (g *gossipTap) Leave(string)                                         {}
func (g *gossipTap) Graft(peer.ID, string)                                {}
func (g *gossipTap) Prune(peer.ID, string)                                {}
func (g *gossipTap) ValidateMessage(*pubsub.Message)                      {}
func (g *gossipTap) DeliverMessage(*pubsub.Message)                       {}
func (g *gossipTap) RejectMessage(*pubsub.Message, string)                {}
func (g *gossipTap) DuplicateMessage(*pubsub.Message)                     {}
func (g *gossipTap) ThrottlePeer(peer.ID)                                 {}
func (g *gossipTap) RecvRPC(rpc *pubsub.RPC)                              { g.rpc(rpc) }
func (g *gossipTap) SendRPC(rpc *pubsub.RPC, _ peer.ID)                   { g.rpc(rpc) }
func (g *gossipTap) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (g *gossipTap) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (g *gossipTap) UndeliverableMessage(*pubsub.Message)                 {}

var _ pubsub.RawTracer = (*gossipTap)(nil)

// lockedBuffer is a log sink shared by the tap node's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// getRaw GETs path from a court's API with its token and returns the
// body; the status must be 200.
func getRaw(t *testing.T, h *httpCourt, path string) []byte {
	t.Helper()
	req, err := http.NewRequest("GET", h.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, h.code, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s on %s: %d %v\n%s", path, h.code, resp.StatusCode, err, b)
	}
	return b
}
