package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/node/mesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// BypassGaterForTest lets every connection through the gater so that a
// test can show the per-stream checks hold on their own.
func BypassGaterForTest(o *Options) { o.bypassGater = true }

// PartitionForTest cuts (or, with cut false, restores) the network between
// n and p: the gater refuses every connection either way and the current
// ones are closed.
func PartitionForTest(n *Node, p peer.ID, cut bool) {
	n.gater.Block(p, cut)
	if cut {
		n.h.Network().ClosePeer(p)
	}
}

// TransferTopicPeersForTest is the number of peers n knows on the
// transfers topic.
func TransferTopicPeersForTest(n *Node) int { return len(n.xfer.Topic().ListPeers()) }

// IngestForTest ingests a record's raw bytes into n as if it had arrived
// from the network (verify, log, apply or hold), returning ingest's error.
func IngestForTest(n *Node, raw []byte) error { return n.xfer.Ingest(raw, "") }

// IngestRangeForTest ingests the records of one sync response into n, as
// the log sync does (records.Service.IngestRange), returning each
// record's error.
func IngestRangeForTest(n *Node, raws [][]byte) []error { return n.xfer.IngestRange(raws, "") }

// PublishForTest publishes raw bytes on n's transfers topic, as a relay
// would: n does not apply them, every other node validates them.
func PublishForTest(ctx context.Context, n *Node, raw []byte) error {
	return n.xfer.Topic().Publish(ctx, raw)
}

// admitAllForTest admits every peer.
type admitAllForTest struct{}

func (admitAllForTest) Admit(peer.ID) error { return nil }

// NewHostForTest builds a libp2p host exactly as a node does (newHost:
// TCP, TLS then Noise, yamux, courtmesh's resource-manager limits) but
// admitting every peer: the fetch benchmark's raw-stream baseline.
func NewHostForTest(priv lcrypto.PrivKey, listen []string) (host.Host, error) {
	g := mesh.NewGater(admitAllForTest{}, slog.New(slog.DiscardHandler), nil, true)
	return mesh.NewHost(priv, listen, "", g, admitAllForTest{})
}

// FetchStreamForTest is a raw fetch-protocol stream from a node to a
// peer, for requests the node's own fetch would never send.
type FetchStreamForTest struct{ st network.Stream }

// OpenFetchStreamForTest opens a fetch stream from n to p.
func OpenFetchStreamForTest(ctx context.Context, n *Node, p peer.ID) (*FetchStreamForTest, error) {
	st, err := n.h.NewStream(ctx, p, cmproto.ProtoFetch)
	if err != nil {
		return nil, err
	}
	return &FetchStreamForTest{st: st}, nil
}

// Ask sends one request and reads its answer: the response and, for a
// chunk request that was served, the chunks (empty if not held).
func (s *FetchStreamForTest) Ask(req *pb.FetchRequest) (*pb.FetchResponse, [][]byte, error) {
	s.st.SetDeadline(time.Now().Add(time.Minute))
	if err := cmproto.WriteDelimited(s.st, req); err != nil {
		return nil, nil, err
	}
	return s.read(!req.GetManifest())
}

// Next reads the next answer on the stream without asking: the first
// chunks that follow a manifest asked with first_chunks.
func (s *FetchStreamForTest) Next() (*pb.FetchResponse, [][]byte, error) {
	s.st.SetDeadline(time.Now().Add(time.Minute))
	return s.read(true)
}

// read reads one answer and, for chunks, the frames it announces.
func (s *FetchStreamForTest) read(chunks bool) (*pb.FetchResponse, [][]byte, error) {
	var resp pb.FetchResponse
	if err := cmproto.ReadDelimited(s.st, &resp, 64<<20); err != nil {
		return nil, nil, err
	}
	if resp.GetError() != "" || !chunks {
		return &resp, nil, nil
	}
	var frames [][]byte
	for range resp.GetChunkCount() {
		c, err := cmproto.ReadFrame(s.st, cmproto.MaxChunkFrame)
		if err != nil {
			return &resp, frames, fmt.Errorf("chunk %d of %d: %w", len(frames), resp.GetChunkCount(), err)
		}
		frames = append(frames, c)
	}
	return &resp, frames, nil
}

// Close closes the stream.
func (s *FetchStreamForTest) Close() error { return s.st.Close() }

// SyncWithForTest exchanges log heads with p and pulls what n lacks, now.
func SyncWithForTest(ctx context.Context, n *Node, p peer.ID) error { return n.xfer.SyncWith(ctx, p) }
