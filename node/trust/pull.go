package trust

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
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

// serveBundle answers a version 2 or 3 bundle request: an offer first,
// the whole bundle only if asked for after it (from the offset asked, for
// a version 3 asker resuming a pull; an empty frame if this node is busy,
// see uploads).
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
		asker := st.Conn().RemotePeer()
		s.holders.add(req.GetHave(), asker)
		s.queuePull(pullRequest{seq: req.GetHave(), peers: []peer.ID{asker}})
	}
	offer := &pb.BundleOffer{Version: offerVersion, Sequence: b.Sequence}
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
	out := b.Raw
	if send.GetVersion() >= 3 {
		// An asker that knows "busy" and offsets: bounded uploads.
		if !s.uploads.reserve(b.FullSequence, send.GetLastResort()) {
			s.uploadsBusy.Add(1)
			_ = cmproto.WriteFrame(st, nil)
			return
		}
		defer s.uploads.release()
		if off := send.GetOffset(); off > 0 {
			if off >= uint64(len(out)) {
				st.Reset()
				return
			}
			out = out[off:]
		}
	}
	// No deadline for the whole: the asker times out on lack of progress,
	// and so do we (a write that cannot progress for idleTimeout fails).
	// The length with the first piece; only the bundle's bytes counted.
	_ = st.SetWriteDeadline(time.Now().Add(idleTimeout))
	if _, err := st.Write(binary.AppendUvarint(nil, uint64(len(out)))); err != nil {
		st.Reset()
		return
	}
	if _, err := (progressWriter{st: st, n: &s.bytesServed}).Write(out); err != nil {
		st.Reset()
		return
	}
	s.bundlesServed.Add(1)
}

// offerVersion is the BundleOffer version this build writes: 2 takes
// offsets and last resorts, and may answer "busy".
const offerVersion = 2

type progressWriter struct {
	st network.Stream
	n  *atomic.Int64 // bytes written, counted
}

func (w progressWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 { // in pieces, each with its own deadline
		k := min(len(p), 256<<10)
		_ = w.st.SetWriteDeadline(time.Now().Add(idleTimeout))
		m, err := w.st.Write(p[:k])
		w.n.Add(int64(m))
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

// errBusy: the peer holds the bundle but serves its whole to others now
// (see uploads); the asker tries another source.
var errBusy = errors.New("the peer is busy serving the whole bundle to others")

// pull asks p what it holds and takes it if newer: the deltas from our
// bundle if it offers them, else (checked first: the root-signed head and
// its sequence) the whole bundle, then the deltas on top of it. A stale or
// equal offer ends the exchange after the offer: nothing is downloaded or
// verified.
func (s *Service) pull(ctx context.Context, p peer.ID) (bool, error) {
	return s.pullFrom(ctx, p, false)
}

// pullFrom is pull, asking as a last resort if lastResort (see uploads).
// A whole bundle with a head whose download stops is kept (partials), and
// the next pull of the same bundle, from any source, resumes it.
func (s *Service) pullFrom(ctx context.Context, p peer.ID, lastResort bool) (bool, error) {
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
	if err := cmproto.WriteDelimited(st, &pb.BundleRequest{Version: requestVersion, Have: cur.Sequence, HaveState: state[:]}); err != nil {
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
	s.holders.add(offer.GetSequence(), p)
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
		if head.Sequence != offer.GetFullSequence() || head.Size != offer.GetSize() || head.Size > crypto.MaxBundleSize {
			return false, fmt.Errorf("bundle head offered by %s names bundle %d of %d bytes, the offer %d of %d: %w",
				p, head.Sequence, head.Size, offer.GetFullSequence(), offer.GetSize(), crypto.ErrMalformed)
		}
		size = head.Size
	}
	// What an earlier source sent of this very bundle, if this source can
	// send the rest (offer version 2) and the head names it.
	var got []byte
	if head != nil {
		got = s.partials.take(head)
		if offer.GetVersion() < 2 {
			s.partials.put(head, got) // kept for a source that can resume
			got = nil
		}
	}
	req := &pb.BundleRequest{Version: requestVersion, Have: cur.Sequence, Send: true, Offset: uint64(len(got)), LastResort: lastResort}
	if err := cmproto.WriteDelimited(st, req); err != nil {
		st.Reset()
		if head != nil {
			s.partials.put(head, got)
		}
		return false, err
	}
	raw, err := s.readWhole(r, head, size, got, offer.GetVersion() >= 2)
	if err != nil {
		st.Reset()
		return false, fmt.Errorf("bundle %d from %s: %w", offer.GetFullSequence(), p, err)
	}
	if head != nil && sha256.Sum256(raw) != head.Hash {
		// Whichever source sent the wrong bytes, they are all discarded.
		return false, fmt.Errorf("bundle %d from %s (%d bytes resumed) does not match its signed head: %w", head.Sequence, p, len(got), crypto.ErrMalformed)
	}
	if len(got) > 0 {
		s.resumed.Add(1)
		s.log.Info("trust bundle pull resumed", "sequence", head.Sequence, "peer", p, "offset", len(got), "size", head.Size)
	}
	ok, err := s.installFull(raw, offer.GetHead(), head, source)
	if err != nil {
		return ok, err
	}
	if ds := offer.GetDeltas(); len(ds) > 0 {
		dok, err := s.applyDeltas(ds, source)
		return ok || dok, err
	}
	return ok, nil
}

// requestVersion is the BundleRequest version this build writes: 3 takes
// "busy" for an answer, and may ask from an offset.
const requestVersion = 3

// readWhole reads the frame of a whole bundle after got, the bytes an
// earlier source sent of it (asked from that offset). A busy server
// (canBusy: its offer is version 2) sends an empty frame: errBusy. With a
// head, the bundle is of head.Size bytes, and if the stream stops before,
// what arrived is kept for the next source (partials); without one, it is
// at most size bytes and nothing is kept.
func (s *Service) readWhole(r progressReader, head *crypto.BundleHead, size uint64, got []byte, canBusy bool) ([]byte, error) {
	n, err := cmproto.ReadFrameSize(r, int(size)-len(got))
	if err != nil {
		if head != nil {
			s.partials.put(head, got)
		}
		return nil, err
	}
	if n == 0 && canBusy {
		if head != nil {
			s.partials.put(head, got)
		}
		return nil, errBusy
	}
	if head != nil && uint64(len(got)+n) != head.Size {
		return nil, fmt.Errorf("a frame of %d bytes after %d, the head names %d: %w", n, len(got), head.Size, crypto.ErrMalformed)
	}
	buf := got
	if head != nil && buf == nil {
		buf = make([]byte, 0, head.Size) // the root's word: no larger than crypto.MaxBundleSize
	}
	want := len(got) + n
	for len(buf) < want {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(want-len(buf), max(len(buf), 64<<10)))
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), want)])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < want {
			if head != nil {
				s.partials.put(head, buf)
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
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
