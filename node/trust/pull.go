package trust

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Stream limits. A pull has no deadline for the whole bundle: it times
// out when no byte arrives for idleTimeout, so a court on a slow link
// still gets a 5 MB bundle, only later.
const (
	idleTimeout  = 20 * time.Second
	openTimeout  = 15 * time.Second
	maxOffer     = 4 << 20 // an offer with its deltas
	maxRequest   = 1024
	maxOfferDlts = 256 // deltas in one offer; further behind takes the whole bundle
)

// progressReader sets a fresh read deadline before every read: a stream
// that makes progress never times out, one that stalls does.
type progressReader struct {
	st network.Stream
	n  *atomic.Int64
}

func (r progressReader) Read(p []byte) (int, error) {
	_ = r.st.SetReadDeadline(time.Now().Add(idleTimeout))
	n, err := r.st.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// serveBundleV1 answers a bundle request of an older build: the whole
// bundle if newer than what the peer has, else an empty answer.
func (s *Service) serveBundleV1(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(5 * time.Minute))
	var req pb.BundleRequest
	if err := cmproto.ReadDelimited(st, &req, maxRequest); err != nil {
		st.Reset()
		return
	}
	b := s.cur.Load().Bundle()
	var out []byte
	if b.FullSequence > req.GetHave() {
		out = b.Raw
	}
	if err := cmproto.WriteFrame(st, out); err != nil {
		st.Reset()
	}
}

// serveBundle answers a version 2 bundle request: an offer first, the
// whole bundle only if asked for after it.
func (s *Service) serveBundle(st network.Stream) {
	defer st.Close()
	r := progressReader{st: st, n: &s.bytesIn}
	var req pb.BundleRequest
	if err := cmproto.ReadDelimited(r, &req, maxRequest); err != nil {
		st.Reset()
		return
	}
	b := s.cur.Load().Bundle()
	if req.GetHave() > b.Sequence {
		// The asker holds a newer bundle than ours: fetch it from them.
		s.queuePull(pullRequest{seq: req.GetHave(), peers: []peer.ID{st.Conn().RemotePeer()}})
	}
	offer := &pb.BundleOffer{Version: 1, Sequence: b.Sequence}
	if b.Sequence > req.GetHave() {
		offer.Head, offer.Size, offer.FullSequence = b.Head, uint64(len(b.Raw)), b.FullSequence
		offer.Deltas = deltasFrom(b, req.GetHaveState())
	}
	_ = st.SetWriteDeadline(time.Now().Add(idleTimeout))
	if err := cmproto.WriteDelimited(st, offer); err != nil {
		st.Reset()
		return
	}
	if b.Sequence <= req.GetHave() {
		return
	}
	var send pb.BundleRequest
	if err := cmproto.ReadDelimited(r, &send, maxRequest); err != nil || !send.GetSend() {
		return // the asker took the deltas, or declined
	}
	// No deadline for the whole: the asker times out on lack of progress,
	// and so do we (a write that cannot progress for idleTimeout fails).
	w := progressWriter{st}
	if err := cmproto.WriteFrame(w, b.Raw); err != nil {
		st.Reset()
	}
}

type progressWriter struct{ st network.Stream }

func (w progressWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 { // in pieces, each with its own deadline
		k := min(len(p), 256<<10)
		_ = w.st.SetWriteDeadline(time.Now().Add(idleTimeout))
		m, err := w.st.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// deltasFrom returns the deltas of b that lead from the bundle whose state
// is have; if have is none of them (the asker is on another chain or far
// behind), all of b's deltas, which apply on top of b's whole bundle.
func deltasFrom(b *crypto.Bundle, have []byte) [][]byte {
	if len(b.Deltas) > maxOfferDlts {
		return nil
	}
	out := b.Deltas
	if len(have) == 32 {
		for i, raw := range b.Deltas {
			if d, err := crypto.PeekDelta(raw); err == nil && d.BaseState == [32]byte(have) {
				out = b.Deltas[i:]
				break
			}
		}
	}
	total := 0
	for _, d := range out {
		total += len(d) + 8
	}
	if total > maxOffer-(64<<10) {
		return nil // too far behind for deltas: the whole bundle, then what it lacks
	}
	return out
}

// errNoChain: the peer is ahead but offers neither deltas from our bundle
// nor a whole bundle newer than ours.
var errNoChain = errors.New("the peer offers no way from our bundle to its own")

// pull asks p what it holds and takes it if newer: the deltas from our
// bundle if it offers them, else (checked first: the root-signed head and
// its sequence) the whole bundle, then the deltas on top of it. A stale or
// equal offer ends the exchange after the offer: nothing is downloaded or
// verified.
func (s *Service) pull(ctx context.Context, p peer.ID) (bool, error) {
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	st, err := s.h.NewStream(octx, p, cmproto.ProtoBundle)
	cancel()
	if err != nil {
		return false, err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	r := progressReader{st: st, n: &s.bytesIn}
	cur := s.cur.Load().Bundle()
	state := cur.State()
	_ = st.SetWriteDeadline(time.Now().Add(idleTimeout))
	if err := cmproto.WriteDelimited(st, &pb.BundleRequest{Version: 2, Have: cur.Sequence, HaveState: state[:]}); err != nil {
		st.Reset()
		return false, err
	}
	var offer pb.BundleOffer
	if err := cmproto.ReadDelimited(r, &offer, maxOffer); err != nil {
		st.Reset()
		return false, err
	}
	if offer.GetSequence() <= cur.Sequence {
		s.declined.Add(1)
		return false, nil
	}
	source := "peer " + p.String()
	// Deltas that apply to what we hold: no whole bundle needed.
	if ds := offer.GetDeltas(); len(ds) > 0 {
		if d, err := crypto.PeekDelta(ds[0]); err == nil && d.BaseSequence == cur.Sequence && d.BaseState == state {
			return s.applyDeltas(ds, source)
		}
	}
	if offer.GetFullSequence() <= cur.Sequence {
		return false, fmt.Errorf("bundle %d offered by %s: %w", offer.GetSequence(), p, errNoChain)
	}
	size := uint64(crypto.MaxBundleSize)
	var head *crypto.BundleHead
	if len(offer.GetHead()) > 0 {
		// The root's signature and the sequence before a byte of the bundle.
		if head, err = crypto.OpenBundleHead(s.root, offer.GetHead()); err != nil {
			return false, fmt.Errorf("bundle head offered by %s: %w", p, err)
		}
		if head.Sequence != offer.GetFullSequence() || head.Size != offer.GetSize() {
			return false, fmt.Errorf("bundle head offered by %s names bundle %d of %d bytes, the offer %d of %d: %w",
				p, head.Sequence, head.Size, offer.GetFullSequence(), offer.GetSize(), crypto.ErrMalformed)
		}
		size = head.Size
	}
	if err := cmproto.WriteDelimited(st, &pb.BundleRequest{Version: 2, Have: cur.Sequence, Send: true}); err != nil {
		st.Reset()
		return false, err
	}
	raw, err := cmproto.ReadFrame(r, int(size))
	if err != nil {
		st.Reset()
		return false, err
	}
	if head != nil && sha256.Sum256(raw) != head.Hash {
		return false, fmt.Errorf("bundle %d from %s does not match its signed head: %w", head.Sequence, p, crypto.ErrMalformed)
	}
	ok, err := s.installFull(raw, offer.GetHead(), source)
	if err != nil {
		return ok, err
	}
	if ds := offer.GetDeltas(); len(ds) > 0 {
		dok, err := s.applyDeltas(ds, source)
		return ok || dok, err
	}
	return ok, nil
}

// applyDeltas installs deltas in order, skipping those already in force.
func (s *Service) applyDeltas(ds [][]byte, source string) (bool, error) {
	any := false
	for _, d := range ds {
		ok, err := s.InstallDelta(d, source)
		if err != nil {
			return any, err
		}
		any = any || ok
	}
	return any, nil
}

// queuePull hands a pull to the worker without blocking.
func (s *Service) queuePull(r pullRequest) {
	select {
	case s.pulls <- r:
	default:
	}
}
