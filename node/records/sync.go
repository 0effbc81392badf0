package records

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// serveSync answers a sync request: our log heads, or a range of one
// issuer's log, as frames ending with an empty one.
func (s *Service) serveSync(st network.Stream) {
	defer st.Close()
	st.SetDeadline(time.Now().Add(time.Minute))
	var req pb.SyncRequest
	if err := cmproto.ReadDelimited(st, &req, 1024); err != nil || req.GetVersion() != 1 {
		st.Reset()
		return
	}
	if len(req.GetIssuer()) == 0 {
		heads, err := s.db.LogHeads()
		if err != nil {
			st.Reset()
			return
		}
		lh := &pb.LogHeads{Version: 1}
		for issuer, seq := range heads {
			id, err := peer.Decode(string(issuer))
			if err != nil {
				continue
			}
			lh.Heads = append(lh.Heads, &pb.LogHead{Issuer: []byte(id), Sequence: seq})
		}
		if err := cmproto.WriteDelimited(st, lh); err != nil {
			st.Reset()
		}
		return
	}
	issuer, err := peer.IDFromBytes(req.GetIssuer())
	if err != nil || req.GetFrom() == 0 || req.GetTo() < req.GetFrom() {
		st.Reset()
		return
	}
	recs, err := s.db.LogRange(court.PeerID(issuer.String()), req.GetFrom(), req.GetTo(), maxRangePerRequest)
	if err != nil {
		st.Reset()
		return
	}
	for _, r := range recs {
		if err := cmproto.WriteFrame(st, r); err != nil {
			st.Reset()
			return
		}
	}
	cmproto.WriteFrame(st, nil)
}

// pullHeads asks p for its log heads and pulls every range we lack.
func (s *Service) pullHeads(ctx context.Context, p peer.ID) error {
	st, err := s.h.NewStream(ctx, p, cmproto.ProtoSync)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(30 * time.Second))
	if err := cmproto.WriteDelimited(st, &pb.SyncRequest{Version: 1}); err != nil {
		st.Reset()
		return err
	}
	var lh pb.LogHeads
	if err := cmproto.ReadDelimited(st, &lh, 16<<20); err != nil {
		st.Reset()
		return err
	}
	for _, h := range lh.GetHeads() {
		issuer, err := peer.IDFromBytes(h.GetIssuer())
		if err != nil {
			continue
		}
		if err := s.pullRange(ctx, p, issuer, h.GetSequence()); err != nil {
			s.log.Debug("sync pull failed", "peer", p, "issuer", issuer, "reason", err)
		}
	}
	s.exchanges.Add(1)
	return nil
}

// pullRange pulls issuer's log from our head up to upto from peer p.
func (s *Service) pullRange(ctx context.Context, p, issuer peer.ID, upto uint64) error {
	if _, busy := s.busy.LoadOrStore(issuer, struct{}{}); busy {
		return nil
	}
	defer s.busy.Delete(issuer)
	if c, rev, ok := s.trust.Trust().RevokedPeer(issuer); ok {
		// A revoked key's log: only its trusted part, checked, and once
		// the record after it.
		return s.pullRevoked(ctx, p, issuer, c, rev, upto)
	}
	for {
		have, err := s.db.LogHead(court.PeerID(issuer.String()))
		if err != nil || have >= upto {
			return err
		}
		if due, ok := s.ahead.blocked(issuer, have+1, s.now()); ok {
			// The next record was refused as dated ahead: pulling the range
			// would fetch it, refuse it and audit it again.
			s.skippedAhead.Add(1)
			s.log.Debug("sync skipped: the next record is dated ahead", "issuer", issuer, "sequence", have+1, "due", due)
			return nil
		}
		got, err := s.pullOnce(ctx, p, issuer, have+1, upto)
		if err != nil {
			return err
		}
		if got == 0 {
			return nil // the peer has a gap too
		}
		after, err := s.db.LogHead(court.PeerID(issuer.String()))
		if err != nil || after == have {
			return err // nothing usable came back
		}
	}
}

// pullOnce pulls issuer's records from..to from p (one response) and
// ingests them, a group of up to maxIngestGroup records at a time
// (IngestRange); it returns how many came.
func (s *Service) pullOnce(ctx context.Context, p, issuer peer.ID, from, to uint64) (int, error) {
	n, size := 0, 0
	var group [][]byte
	flush := func() {
		for _, err := range s.IngestRange(group, p) {
			if err != nil && outcome(err) == pubsub.ValidationReject {
				s.reject(p, err)
			}
		}
		group, size = nil, 0
	}
	err := s.readRange(ctx, p, issuer, from, to, func(raw []byte) {
		n++
		group = append(group, raw)
		if size += len(raw); len(group) >= maxIngestGroup || size >= storage.MaxBatchBytes/2 {
			flush()
		}
	})
	// What came before an error is ingested too.
	flush()
	return n, err
}

// fetchRange asks p for issuer's records from..to (one response: at most
// maxRangePerRequest) and returns them unchecked.
func (s *Service) fetchRange(ctx context.Context, p, issuer peer.ID, from, to uint64) ([][]byte, error) {
	var out [][]byte
	err := s.readRange(ctx, p, issuer, from, to, func(raw []byte) { out = append(out, raw) })
	return out, err
}

// readRange asks p for issuer's records from..to and calls f with each.
func (s *Service) readRange(ctx context.Context, p, issuer peer.ID, from, to uint64, f func([]byte)) error {
	st, err := s.h.NewStream(ctx, p, cmproto.ProtoSync)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(time.Minute))
	if err := cmproto.WriteDelimited(st, &pb.SyncRequest{Version: 1, Issuer: []byte(issuer), From: from, To: to}); err != nil {
		st.Reset()
		return err
	}
	for {
		raw, err := cmproto.ReadFrame(st, cmproto.MaxGossipMessage)
		if err != nil {
			st.Reset()
			return err
		}
		if len(raw) == 0 {
			return nil
		}
		f(raw)
	}
}

// announce publishes our own log head on the transfers topic.
func (s *Service) announce(ctx context.Context) error {
	self, err := s.trust.Trust().ByPeer(s.h.ID(), s.now())
	if err != nil {
		return err
	}
	head, err := s.db.LogHead(court.PeerID(s.h.ID().String()))
	if err != nil || head == 0 {
		return err
	}
	env, err := crypto.SealMessage(s.signer, self.Serial, cmproto.PayloadLogHeads,
		&pb.LogHeads{Version: 1, Heads: []*pb.LogHead{{Issuer: []byte(s.h.ID()), Sequence: head}}})
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	return s.topic.Publish(ctx, b)
}

// Serve runs the sync worker, the periodic announcement and the periodic
// anti-entropy exchange with one random peer, until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, err := s.sub.Next(ctx); err != nil {
				return
			}
		}
	}()
	defer s.sub.Cancel()
	workers := 4
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.pulls:
					if s.trust.Admit(j.from) != nil || j.from == s.h.ID() {
						continue
					}
					jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
					var err error
					if j.issuer == "" {
						err = s.pullHeads(jctx, j.from)
					} else {
						err = s.pullRange(jctx, j.from, j.issuer, j.upto)
					}
					cancel()
					if err != nil && ctx.Err() == nil {
						s.log.Debug("sync failed", "peer", j.from, "reason", err)
					}
				}
			}
		}()
	}
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
			if err := s.announce(ctx); err != nil && ctx.Err() == nil {
				s.log.Debug("log head announce failed", "reason", err)
			}
			if ps := s.h.Network().Peers(); len(ps) > 0 {
				s.enqueue(pullJob{from: ps[rand.IntN(len(ps))]})
			}
		}
	}
}

// SyncWith exchanges log heads with p now and pulls what this node lacks,
// as the periodic exchange does with a random peer; it returns when done.
func (s *Service) SyncWith(ctx context.Context, p peer.ID) error {
	if err := s.trust.Admit(p); err != nil {
		return err
	}
	return s.pullHeads(ctx, p)
}
