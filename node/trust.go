package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// trustService keeps the trust bundle in force: it loads it from disk,
// installs newer bundles (pushed by an operator, announced on the trust
// topic, pulled from a peer), persists them, closes the connections of
// peers that are no longer admitted, and serves the bundle to peers.
type trustService struct {
	dir  datadir.Dir
	root *crypto.Certificate
	self peer.ID
	log  *slog.Logger
	now  func() time.Time

	cur atomic.Pointer[crypto.Trust]
	mu  sync.Mutex // serialises installs

	h       host.Host
	signer  crypto.Signer
	metrics *metrics
	topic   *pubsub.Topic
	sub     *pubsub.Subscription // validated messages are acted on in validate; this only drains
	pulls   chan pullRequest
	behind  chan peer.ID // peers seen announcing an older bundle
	// onInstall is called, without locks held, after a new bundle is in force.
	onInstall []func(*crypto.Trust)
}

type pullRequest struct {
	seq   uint64
	peers []peer.ID
}

var _ admission = (*trustService)(nil)

func newTrustService(dir datadir.Dir, self peer.ID, log *slog.Logger, now func() time.Time) (*trustService, error) {
	rootRaw, err := readFile(dir.Path(datadir.RootFile), "the national root certificate; run `courtmesh trust install`")
	if err != nil {
		return nil, err
	}
	root, err := datadir.ParseRoot(rootRaw)
	if err != nil {
		return nil, err
	}
	raw, err := readFile(dir.Path(datadir.BundleFile), "the trust bundle; run `courtmesh trust install`")
	if err != nil {
		return nil, err
	}
	b, err := crypto.OpenBundle(root, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir.Path(datadir.BundleFile), err)
	}
	s := &trustService{dir: dir, root: root, self: self, log: log, now: now, pulls: make(chan pullRequest, 16)}
	s.cur.Store(crypto.NewTrust(root, b))
	return s, nil
}

// Trust returns the view in force.
func (s *trustService) Trust() *crypto.Trust { return s.cur.Load() }

// Admit implements admission: a peer is admitted if the bundle in force
// certifies it now. The node itself is always admitted.
func (s *trustService) Admit(p peer.ID) error {
	if p == s.self {
		return nil
	}
	_, err := s.cur.Load().ByPeer(p, s.now())
	return err
}

// Install verifies raw and puts it in force if it is newer. It returns
// false, nil for a bundle that is valid but not newer.
func (s *trustService) Install(raw []byte, source string) (bool, error) {
	s.mu.Lock()
	cur := s.cur.Load()
	nb, err := crypto.OpenBundle(s.root, raw)
	if err != nil {
		s.mu.Unlock()
		s.log.Warn("trust bundle rejected", "source", source, "reason", err)
		return false, err
	}
	next, err := cur.Replace(nb)
	if err != nil {
		s.mu.Unlock()
		if errors.Is(err, crypto.ErrStale) {
			return false, nil
		}
		return false, err
	}
	if nb.Status(s.now()) == crypto.BundleDead {
		s.mu.Unlock()
		return false, fmt.Errorf("trust bundle %d expired on %s: %w", nb.Sequence, nb.ExpiresAt.UTC().Format(time.DateOnly), crypto.ErrExpired)
	}
	if err := datadir.WriteFileAtomic(s.dir.Path(datadir.BundleFile), raw, 0o644); err != nil {
		s.mu.Unlock()
		return false, fmt.Errorf("persist trust bundle: %w", err)
	}
	s.cur.Store(next)
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.bundleInstalled.Inc()
	}
	s.log.Info("trust bundle installed", "sequence", nb.Sequence, "previous", cur.Bundle().Sequence, "source", source,
		"certificates", len(nb.Certs), "revocations", len(nb.Revocations), "expires", nb.ExpiresAt.UTC().Format(time.RFC3339))
	s.enforce()
	for _, f := range s.onInstall {
		f(next)
	}
	go s.pokeNeighbours()
	return true, nil
}

// pokeNeighbours tells every connected peer which bundle we hold, over
// the bundle stream protocol: a peer that is behind pulls from us. Gossip
// spreads the announcement across the whole mesh; this makes sure that
// direct neighbours learn it even if a gossip message is lost.
func (s *trustService) pokeNeighbours() {
	if s.h == nil {
		return
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, p := range s.h.Network().Peers() {
		if s.Admit(p) != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := s.pull(context.Background(), p); err != nil {
				s.log.Debug("bundle poke failed", "peer", p, "reason", err)
			}
		}()
	}
	wg.Wait()
}

// Poke exchanges bundle sequences with one peer (on a new connection).
func (s *trustService) poke(ctx context.Context, p peer.ID) {
	if _, err := s.pull(ctx, p); err != nil {
		s.log.Debug("bundle exchange failed", "peer", p, "reason", err)
	}
}

// enforce closes the connections of every peer no longer admitted.
func (s *trustService) enforce() {
	if s.h == nil {
		return
	}
	for _, p := range s.h.Network().Peers() {
		if err := s.Admit(p); err != nil {
			s.log.Info("closing connections of peer no longer admitted", "peer", p, "reason", err)
			s.h.Network().ClosePeer(p)
		}
	}
}

// announce publishes the bundle in force on the trust topic.
func (s *trustService) announce(ctx context.Context) error {
	if s.topic == nil {
		return nil
	}
	t := s.cur.Load()
	self, err := t.ByPeer(s.self, s.now())
	if err != nil {
		return fmt.Errorf("announce bundle: this node is not certified: %w", err)
	}
	h := t.Bundle().Hash()
	env, err := crypto.SealMessage(s.signer, self.Serial, cmproto.PayloadBundleAnnounce, &pb.BundleAnnounce{
		Version: cmproto.BundleAnnounceVersion, Sequence: t.Bundle().Sequence, Sha256: h[:], ExpiresAt: t.Bundle().ExpiresAt.Unix(),
		AnnouncedAt: s.now().UnixMilli(),
	})
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	s.log.Debug("announcing trust bundle", "sequence", t.Bundle().Sequence, "topic_peers", len(s.topic.ListPeers()))
	return s.topic.Publish(ctx, b)
}

// validate is the inline gossipsub validator of the trust topic.
func (s *trustService) validate(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	env, err := crypto.UnmarshalEnvelope(msg.Data, cmproto.MaxGossipMessage)
	if err != nil {
		s.rejected(from, err)
		return pubsub.ValidationReject
	}
	t := s.cur.Load()
	signer, err := t.Open(env, cmproto.PayloadBundleAnnounce, s.now())
	if err != nil {
		s.rejected(from, err)
		return pubsub.ValidationReject
	}
	a, err := cmproto.DecodeBundleAnnounce(env.Payload)
	if err != nil {
		s.rejected(from, err)
		return pubsub.ValidationReject
	}
	s.log.Debug("bundle announce received", "from", from, "sequence", a.GetSequence(), "have", t.Bundle().Sequence)
	if from == s.self {
		return pubsub.ValidationAccept // our own announcement of what we hold
	}
	if a.GetSequence() < t.Bundle().Sequence && s.behind != nil {
		// The announcer is behind: tell the topic what we hold, so that
		// a lost announcement cannot leave a peer on an old bundle.
		select {
		case s.behind <- from:
		default:
		}
	}
	if a.GetSequence() <= t.Bundle().Sequence {
		return pubsub.ValidationIgnore
	}
	// Newer: pull it from the announcer, falling back to whoever relayed it.
	select {
	case s.pulls <- pullRequest{seq: a.GetSequence(), peers: []peer.ID{signer.PeerID, from}}:
	default:
	}
	return pubsub.ValidationAccept
}

func (s *trustService) rejected(from peer.ID, err error) {
	s.log.Info("gossip rejected", "topic", cmproto.TopicTrust, "from", from, "reason", err)
	if s.metrics != nil {
		s.metrics.gossipRejected.WithLabelValues(cmproto.TopicTrust, rejectReason(err)).Inc()
	}
}

// serveBundle answers a bundle request: the bundle in force if newer than
// what the peer has, else an empty answer.
func (s *trustService) serveBundle(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(30 * time.Second))
	var req pb.BundleRequest
	if err := readDelimited(st, &req, 1024); err != nil {
		st.Reset()
		return
	}
	b := s.cur.Load().Bundle()
	if req.GetHave() > b.Sequence {
		// The asker holds a newer bundle than ours: fetch it from them.
		select {
		case s.pulls <- pullRequest{seq: req.GetHave(), peers: []peer.ID{st.Conn().RemotePeer()}}:
		default:
		}
	}
	var out []byte
	if b.Sequence > req.GetHave() {
		out = b.Raw
	}
	if err := writeFrame(st, out); err != nil {
		st.Reset()
	}
}

// pull asks p for a bundle newer than the one in force.
func (s *trustService) pull(ctx context.Context, p peer.ID) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := s.h.NewStream(ctx, p, cmproto.ProtoBundle)
	if err != nil {
		return false, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := writeDelimited(st, &pb.BundleRequest{Version: 1, Have: s.cur.Load().Bundle().Sequence}); err != nil {
		st.Reset()
		return false, err
	}
	raw, err := readFrame(st, crypto.MaxBundleSize)
	if err != nil {
		st.Reset()
		return false, err
	}
	if len(raw) == 0 {
		return false, nil
	}
	return s.Install(raw, "peer "+p.String())
}

// Serve runs the pull worker and the periodic checks until ctx ends.
func (s *trustService) Serve(ctx context.Context) error {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	s.checkExpiry()
	if s.sub != nil {
		go func() {
			for {
				if _, err := s.sub.Next(ctx); err != nil {
					return
				}
			}
		}()
		defer s.sub.Cancel()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.pulls:
			for _, p := range r.peers {
				if s.cur.Load().Bundle().Sequence >= r.seq {
					break
				}
				if p == "" || p == s.self {
					continue
				}
				if _, err := s.pull(ctx, p); err != nil {
					s.log.Info("trust bundle pull failed", "peer", p, "reason", err)
				}
			}
		case <-tick.C:
			// Certificates expire while connections stay up: re-check.
			s.enforce()
			s.checkExpiry()
		}
	}
}

func (s *trustService) checkExpiry() {
	b := s.cur.Load().Bundle()
	switch st := b.Status(s.now()); st {
	case crypto.BundleExpiring:
		s.log.Warn("trust bundle expires soon; ask the national operator for a new one", "sequence", b.Sequence, "expires", b.ExpiresAt.UTC().Format(time.RFC3339))
	case crypto.BundleGraced:
		s.log.Error("trust bundle has expired; the node keeps working until the grace period ends", "sequence", b.Sequence, "grace_ends", b.ExpiresAt.Add(crypto.BundleGrace).UTC().Format(time.RFC3339))
	case crypto.BundleDead:
		s.log.Error("trust bundle expired and grace period over: admitting no peers until a newer bundle is installed", "sequence", b.Sequence)
	}
}

// Framing helpers: an unsigned-varint length, then the bytes.

func writeFrame(w io.Writer, b []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(b)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader, max int) ([]byte, error) {
	br := byteReader{r: r}
	n, err := binary.ReadUvarint(&br)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("frame of %d bytes exceeds the limit of %d: %w", n, max, crypto.ErrMalformed)
	}
	// Read as it arrives rather than allocated up front: the length is
	// the sender's word, and a frame that never comes costs nothing.
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err == nil && uint64(len(b)) != n {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

func writeDelimited(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return writeFrame(w, b)
}

func readDelimited(r io.Reader, m proto.Message, max int) error {
	b, err := readFrame(r, max)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}

// byteReader reads one byte at a time without buffering past the frame.
type byteReader struct{ r io.Reader }

func (b *byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.r, c[:])
	return c[0], err
}

func readFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", path, what, err)
	}
	return b, nil
}
