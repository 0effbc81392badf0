package health

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/record"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

type hbTopic struct {
	topic *pubsub.Topic
	sub   *pubsub.Subscription
}

// recentHeads is how many past head lengths a witness keeps per peer, on
// top of the checkpoints of the newest heartbeat.
const recentHeads = 16

// maxClaimedInterval caps the heartbeat interval a node's heartbeat
// claims when judging whether it has gone silent.
const maxClaimedInterval = 5 * time.Minute

// initialHeartbeatPause is the pause after the first heartbeat; it
// doubles up to the heartbeat interval.
const initialHeartbeatPause = time.Second

// maxWitnessed bounds the (length, hash) pairs kept per peer.
const maxWitnessed = 2*64 + recentHeads + 1

// peerHealth is what this node knows of one node from its heartbeats.
type peerHealth struct {
	serial   uint64
	court    court.CourtCode
	received time.Time // local time of the newest heartbeat
	sentAt   int64     // its sent_at (unix ms): older ones are stale
	// offset is how far its newest heartbeat was dated after the local
	// time it arrived (negative: before); skewSince is when the offset
	// last went beyond the tolerance (zero while within it).
	offset    time.Duration
	skewSince time.Time
	hb        *pb.Heartbeat
	maxLength uint64
	// witnessed maps audit log lengths to the hash this node's heartbeats
	// showed for them: the checkpoints of the newest heartbeat and the
	// heads of the last recentHeads heartbeats. The first hash seen at a
	// length is kept: it is the evidence.
	witnessed map[uint64][32]byte
	heads     []uint64 // recent head lengths, oldest first
	// audit is the first inconsistency seen ("audit_forked",
	// "audit_rewound"), sticky until the node restarts.
	audit       string
	auditDetail string
	auditSince  time.Time
}

// provinces lists the provinces whose heartbeats this node follows: its
// own; on an operator node, every province the built-in court table or the
// bundle names, and 最高法 (the national operators' own topic).
func (s *Service) provinces(t *crypto.Trust) []court.CourtCode {
	if !s.operator {
		return []court.CourtCode{s.province}
	}
	set := map[court.CourtCode]bool{s.province: true, court.Supreme: true}
	for _, c := range court.KnownCourts() {
		if p := c.Province(); p != "" {
			set[p] = true
		}
	}
	for _, c := range t.Bundle().Certs {
		if p := c.Code.Province(); p != "" {
			set[p] = true
		}
	}
	out := make([]court.CourtCode, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// joinAll joins and subscribes to every province topic not yet joined.
func (s *Service) joinAll(t *crypto.Trust) error {
	for _, p := range s.provinces(t) {
		s.mu.Lock()
		_, have := s.topics[p]
		s.mu.Unlock()
		if have {
			continue
		}
		name := cmproto.TopicHeartbeat(p)
		if err := s.d.PubSub.RegisterTopicValidator(name, s.d.Metrics.Metered(name, s.validator(p)), pubsub.WithValidatorInline(true)); err != nil {
			return fmt.Errorf("heartbeat topic %s: %w", name, err)
		}
		topic, err := s.d.PubSub.Join(name)
		if err != nil {
			return fmt.Errorf("heartbeat topic %s: %w", name, err)
		}
		sub, err := topic.Subscribe()
		if err != nil {
			return fmt.Errorf("heartbeat topic %s: %w", name, err)
		}
		s.mu.Lock()
		s.topics[p] = &hbTopic{topic: topic, sub: sub}
		s.mu.Unlock()
		// Validated heartbeats are recorded in the validator; the
		// subscription only keeps this node in the topic's mesh, and
		// Serve drains it.
		select {
		case s.newSubs <- sub:
		default:
			return fmt.Errorf("heartbeat topic %s: too many topics", name)
		}
	}
	return nil
}

// serveHeartbeats publishes a heartbeat at once, then after pauses doubling
// from initialHeartbeatPause up to the interval, then every interval, and drains
// the subscriptions, until ctx ends.
func (s *Service) serveHeartbeats(ctx context.Context) error {
	s.mu.Lock()
	s.started = s.now()
	s.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		s.mu.Lock()
		for _, t := range s.topics {
			t.sub.Cancel()
		}
		s.mu.Unlock()
		wg.Wait()
	}()
	drain := func() {
		for {
			select {
			case sub := <-s.newSubs:
				wg.Go(func() {
					for {
						if _, err := sub.Next(ctx); err != nil {
							return
						}
					}
				})
			default:
				return
			}
		}
	}
	drain()
	// The heartbeat sent at start reaches nobody (the topic has no peers
	// yet), and courts dial each other from the signed peer records in
	// heartbeats: the next ones go out after 1 s, 2 s, 4 s … until the
	// pause reaches the interval, so that courts that just joined (and
	// nodes not connected to this one) learn its addresses at once.
	pause := min(initialHeartbeatPause, s.every)
	tick := time.NewTimer(pause)
	defer tick.Stop()
	for {
		if err := s.publish(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat not published", "reason", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			pause = min(2*pause, s.every)
			tick.Reset(pause)
		case <-s.rescan:
			if err := s.joinAll(s.d.Trust.Trust()); err != nil {
				s.log.Warn("could not join the heartbeat topics of a new bundle", "reason", err)
			}
			drain()
		}
	}
}

// checkpointPositions returns the audit log positions whose hashes a
// heartbeat at length l carries besides l itself, highest first: for each
// 2^k <= l, the largest multiple m of 2^k not above l, and m - 2^k. For
// l1 < l2 and every 2^k > l2-l1, the position m chosen at l1 is also chosen
// at l2, so consecutive heartbeats share positions down to about
// l1 - 2(l2-l1): a witness compares hashes there.
func checkpointPositions(l uint64) []uint64 {
	var out []uint64
	for k := 0; k < 64 && uint64(1)<<k <= l; k++ {
		step := uint64(1) << k
		m := l &^ (step - 1)
		for _, p := range [2]uint64{m, m - step} {
			if p != 0 && p != l && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// build assembles this node's heartbeat. Its cost does not grow with
// history: the audit checkpoints are at most 2*64 entries and the
// transfer states come from the store's counters.
func (s *Service) build() (*pb.Heartbeat, *crypto.Certificate, error) {
	now := s.now()
	self, err := s.self()
	if err != nil {
		return nil, nil, fmt.Errorf("this node is not certified: %w", err)
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	h, db := s.d.Host, s.d.Store
	hb := &pb.Heartbeat{
		Version: cmproto.HeartbeatVersion, Court: string(self.Code), SentAt: now.UnixMilli(),
		IntervalMs: uint32(min(s.every.Milliseconds(), 1<<31)), UptimeSeconds: max(int64(now.Sub(started).Seconds()), 0),
		Peers: uint32(len(h.Network().Peers())), BundleSequence: s.d.Trust.Trust().Bundle().Sequence,
		SoftwareVersion: s.d.Version, TransferStates: map[string]uint32{},
	}
	if hb.IntervalMs == 0 {
		hb.IntervalMs = 1
	}
	length, head, err := db.AuditHead()
	if err != nil {
		return nil, nil, fmt.Errorf("audit head: %w", err)
	}
	if length > 0 {
		if hb.AuditHead, err = storage.AuditHashBytes(head); err != nil {
			return nil, nil, fmt.Errorf("audit head record of entry %d is corrupt (run `courtmesh audit verify`)", length)
		}
		hb.AuditLength = length
		for _, p := range checkpointPositions(length) {
			es, err := db.AuditEntries(p, p)
			if err != nil {
				return nil, nil, fmt.Errorf("audit entry %d: %w", p, err)
			}
			if len(es) != 1 || es[0].Seq != p {
				return nil, nil, fmt.Errorf("audit entry %d is missing (run `courtmesh audit verify`)", p)
			}
			h, err := storage.AuditHashBytes(es[0].Hash)
			if err != nil {
				return nil, nil, fmt.Errorf("audit entry %d has a corrupt hash (run `courtmesh audit verify`)", p)
			}
			hb.AuditCheckpoints = append(hb.AuditCheckpoints, &pb.AuditCheckpoint{Length: p, Hash: h})
		}
	}
	if s.d.RecordHead != nil {
		pos, err := s.d.RecordHead()
		if err != nil {
			return nil, nil, fmt.Errorf("record log head: %w", err)
		}
		if pos.Seq > 0 {
			hb.RecordLogLength, hb.RecordLogHead = pos.Seq, pos.Head[:]
		}
	}
	// Count by state from the counters kept with the transfers; at most
	// maxHeartbeatStates states (there are 8), in name order.
	counts, err := db.TransferCounts()
	if err != nil {
		return nil, nil, fmt.Errorf("transfers: %w", err)
	}
	states := slices.Sorted(maps.Keys(counts))
	for _, st := range states {
		if c := counts[st]; st != "" && c > 0 && len(hb.TransferStates) < maxHeartbeatStates {
			hb.TransferStates[st] = uint32(min(c, math.MaxUint32))
		}
	}
	rec, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}), s.d.Key.Transport().Libp2p())
	if err != nil {
		return nil, nil, fmt.Errorf("sign peer record: %w", err)
	}
	if hb.PeerRecord, err = rec.Marshal(); err != nil {
		return nil, nil, err
	}
	if len(hb.PeerRecord) > cmproto.MaxPeerRecord {
		hb.PeerRecord = nil // too many addresses: dial from the bootstrap list instead
	}
	return hb, self, nil
}

// maxHeartbeatStates bounds the transfer states a heartbeat carries.
const maxHeartbeatStates = 32

// publish signs and publishes one heartbeat on this node's province topic.
func (s *Service) publish(ctx context.Context) error {
	hb, self, err := s.build()
	if err != nil {
		return err
	}
	env, err := crypto.SealMessage(s.d.Key, self.Serial, cmproto.PayloadHeartbeat, hb)
	if err != nil {
		return err
	}
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	if len(b) > cmproto.MaxGossipMessage {
		return fmt.Errorf("heartbeat of %d bytes exceeds the gossip limit", len(b))
	}
	s.mu.Lock()
	t := s.topics[s.province]
	s.mu.Unlock()
	if err := t.topic.Publish(ctx, b); err != nil {
		return err
	}
	if s.d.Published != nil {
		if err := s.d.Published(b); err != nil {
			s.log.Warn("could not keep the published heartbeat for evidence exports", "reason", err)
		}
	}
	return nil
}

// validator is the inline gossipsub validator of a province's heartbeat
// topic: Reject a malformed heartbeat, a bad signature, an unknown,
// revoked or expired signer, or a signer of another province; Ignore a
// heartbeat not newer than the last one from its node.
func (s *Service) validator(province court.CourtCode) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	topic := cmproto.TopicHeartbeat(province)
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		res, err := s.validate(province, msg.Data)
		if res == pubsub.ValidationReject {
			s.log.Info("gossip rejected", "topic", topic, "from", from, "reason", err)
			s.d.Metrics.GossipRejected.WithLabelValues(topic, metrics.RejectReason(err)).Inc()
		}
		return res
	}
}

func (s *Service) validate(province court.CourtCode, data []byte) (pubsub.ValidationResult, error) {
	now := s.now()
	env, err := crypto.UnmarshalEnvelope(data, cmproto.MaxGossipMessage)
	if err != nil {
		return pubsub.ValidationReject, err
	}
	signer, err := s.d.Trust.Trust().Open(env, cmproto.PayloadHeartbeat, now)
	if err != nil {
		return pubsub.ValidationReject, err
	}
	if signer.Code.Province() != province {
		return pubsub.ValidationReject, fmt.Errorf("heartbeat of %s on the topic of province %s: %w", signer.Code, province, crypto.ErrNotAuthorised)
	}
	hb, err := cmproto.DecodeHeartbeat(env.Payload)
	if err != nil {
		return pubsub.ValidationReject, err
	}
	if court.CourtCode(hb.GetCourt()) != signer.Code {
		return pubsub.ValidationReject, fmt.Errorf("heartbeat names court %s but is signed by %s: %w", hb.GetCourt(), signer.Code, crypto.ErrMalformed)
	}
	var rec *record.Envelope
	if len(hb.GetPeerRecord()) > 0 {
		var pr peer.PeerRecord
		if rec, err = record.ConsumeTypedEnvelope(hb.GetPeerRecord(), &pr); err != nil {
			return pubsub.ValidationReject, fmt.Errorf("heartbeat of %s: peer record: %w: %v", signer.Code, crypto.ErrMalformed, err)
		}
		if pr.PeerID != signer.PeerID {
			return pubsub.ValidationReject, fmt.Errorf("heartbeat of %s carries the peer record of %s: %w", signer.Code, pr.PeerID, crypto.ErrMalformed)
		}
	}
	// A heartbeat dated ahead or behind is kept: its node is alive, and
	// its date tells how wrong one of the two clocks is (record).
	if !s.record(signer, hb, now) {
		return pubsub.ValidationIgnore, court.ErrStale
	}
	if rec != nil && signer.PeerID != s.d.Host.ID() {
		s.consumeRecord(rec)
	}
	return pubsub.ValidationAccept, nil
}

// consumeRecord puts a verified signed peer record into the certified
// address book: courts dial each other from the newest one.
func (s *Service) consumeRecord(rec *record.Envelope) bool {
	cab, ok := peerstore.GetCertifiedAddrBook(s.d.Host.Peerstore())
	if !ok {
		return false
	}
	accepted, err := cab.ConsumePeerRecord(rec, max(10*s.every, peerstore.RecentlyConnectedAddrTTL))
	return accepted && err == nil
}

// RestoreAddrs makes sure the peerstore holds addresses for p before it is
// dialled: when it holds none (p's addresses lapsed, or were never
// learnt), the signed peer record of p's newest verified heartbeat is
// consumed again. It reports whether the peerstore now holds addresses
// for p.
func (s *Service) RestoreAddrs(p peer.ID) bool {
	ps := s.d.Host.Peerstore()
	if p == s.d.Host.ID() || len(ps.Addrs(p)) > 0 {
		return true
	}
	s.mu.Lock()
	var raw []byte
	if ph := s.peers[p]; ph != nil && ph.hb != nil {
		raw = ph.hb.GetPeerRecord()
	}
	s.mu.Unlock()
	if len(raw) == 0 {
		return false
	}
	// Verified when its heartbeat was; opened again for the envelope.
	var pr peer.PeerRecord
	rec, err := record.ConsumeTypedEnvelope(raw, &pr)
	if err != nil || pr.PeerID != p {
		return false
	}
	s.consumeRecord(rec)
	return len(ps.Addrs(p)) > 0
}

// record keeps hb as the newest heartbeat of its signer and witnesses its
// audit head; it returns false for a heartbeat not newer than the last.
func (s *Service) record(signer *crypto.Certificate, hb *pb.Heartbeat, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ph := s.peers[signer.PeerID]
	if ph == nil {
		ph = &peerHealth{witnessed: map[uint64][32]byte{}}
		s.peers[signer.PeerID] = ph
	}
	offset := time.UnixMilli(hb.GetSentAt()).Sub(now)
	skewed := offset > s.d.SkewTolerance || offset < -s.d.SkewTolerance
	if ph.hb != nil && hb.GetSentAt() <= ph.sentAt && (skewed || ph.skewSince.IsZero()) && signer.PeerID != s.d.Host.ID() {
		// Not newer. Only a node whose clock was wrong and has been set
		// right is heard again at once, although its dates went back;
		// and this node's own heartbeats always pass (gossipsub
		// validates a local publish too: after its clock was set back,
		// it would otherwise stop sending until the clock caught up).
		return false
	}
	ph.serial, ph.court, ph.received, ph.sentAt, ph.hb = signer.Serial, signer.Code, now, hb.GetSentAt(), hb
	ph.offset = offset
	switch {
	case !skewed:
		ph.skewSince = time.Time{}
	case ph.skewSince.IsZero():
		ph.skewSince = now
		if signer.PeerID != s.d.Host.ID() {
			s.log.Warn("clock skew: a node's heartbeats are dated away from this node's clock", "court", signer.Code, "peer", signer.PeerID, "offset", offset.Round(time.Second))
		}
	}
	ph.witness(hb, now)
	if ph.audit != "" {
		s.log.Warn("audit log inconsistency", "court", signer.Code, "peer", signer.PeerID, "flag", ph.audit, "detail", ph.auditDetail)
	}
	return true
}

// WitnessedRecordHead returns the newest head of peer p's own record log
// that this node witnessed in p's heartbeats, and when that heartbeat
// arrived. A revocation of p's key may pin it as the last trusted head.
func (s *Service) WitnessedRecordHead(p peer.ID) (pos crypto.LogPosition, at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ph := s.peers[p]
	if ph == nil || ph.hb == nil || ph.hb.GetRecordLogLength() == 0 || len(ph.hb.GetRecordLogHead()) != 32 {
		return crypto.LogPosition{}, time.Time{}, false
	}
	return crypto.LogPosition{Seq: ph.hb.GetRecordLogLength(), Head: [32]byte(ph.hb.GetRecordLogHead())}, ph.received, true
}

// witness compares a heartbeat's audit head and checkpoints with what the
// node showed before, then keeps the newest checkpoints and recent heads.
func (ph *peerHealth) witness(hb *pb.Heartbeat, now time.Time) {
	l := hb.GetAuditLength()
	flag := func(kind, detail string) {
		if ph.audit == "" {
			ph.audit, ph.auditDetail, ph.auditSince = kind, detail, now
		}
	}
	if l < ph.maxLength {
		flag("audit_rewound", fmt.Sprintf("audit log of %s went back from %d to %d entries", hb.GetCourt(), ph.maxLength, l))
	}
	shown := make(map[uint64][32]byte, len(hb.GetAuditCheckpoints())+1)
	for _, c := range hb.GetAuditCheckpoints() {
		shown[c.GetLength()] = [32]byte(c.GetHash())
	}
	if l > 0 {
		shown[l] = [32]byte(hb.GetAuditHead())
	}
	// Lowest position first: name the earliest rewritten entry we can.
	positions := make([]uint64, 0, len(shown))
	for p := range shown {
		positions = append(positions, p)
	}
	slices.Sort(positions)
	for _, p := range positions {
		if was, ok := ph.witnessed[p]; ok && was != shown[p] {
			got := shown[p]
			flag("audit_forked", fmt.Sprintf("audit log of %s shows another hash at entry %d (was %x…, now %x…): history rewritten", hb.GetCourt(), p, was[:6], got[:6]))
			break
		}
	}
	ph.maxLength = max(ph.maxLength, l)
	if l > 0 {
		ph.heads = append(ph.heads, l)
		if len(ph.heads) > recentHeads {
			ph.heads = ph.heads[len(ph.heads)-recentHeads:]
		}
	}
	keep := make(map[uint64][32]byte, len(shown)+len(ph.heads))
	for p, h := range shown {
		if was, ok := ph.witnessed[p]; ok {
			h = was // the first hash seen is the evidence
		}
		keep[p] = h
	}
	for _, p := range ph.heads {
		if h, ok := ph.witnessed[p]; ok {
			if _, dup := keep[p]; !dup {
				keep[p] = h
			}
		}
	}
	ph.witnessed = keep
}
