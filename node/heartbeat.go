package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/record"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// heartbeatService publishes this node's signed heartbeat on its
// province's topic every interval, and keeps the newest heartbeat of every
// node it hears: its own province's, or every province's on an operator
// node. It witnesses their audit log heads: a log that goes backwards, or
// shows another hash at a position it showed before, is flagged.
//
// Memory: one peerHealth per node heard (3,500 nationally), each holding
// at most maxWitnessed (length, hash) pairs: about 7 KiB per node with
// full histories, some 25 MiB for the whole country on an operator node.
type heartbeatService struct {
	n        *Node
	log      *slog.Logger
	every    time.Duration
	province court.CourtCode // this node's
	operator bool

	mu      sync.Mutex // guards topics, peers
	topics  map[court.CourtCode]*hbTopic
	peers   map[peer.ID]*peerHealth
	started time.Time // when Serve started publishing (silence is judged from then)

	newSubs chan *pubsub.Subscription // subscriptions to drain, for Serve
	rescan  chan struct{}             // a new bundle may name new provinces
}

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

// maxWitnessed bounds the (length, hash) pairs kept per peer.
const maxWitnessed = 2*64 + recentHeads + 1

// peerHealth is what this node knows of one node from its heartbeats.
type peerHealth struct {
	serial    uint64
	court     court.CourtCode
	received  time.Time // local time of the newest heartbeat
	sentAt    int64     // its sent_at (unix ms): older ones are stale
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

func newHeartbeatService(n *Node) (*heartbeatService, error) {
	every := n.cfg.HeartbeatInterval.Duration
	if every <= 0 {
		return nil, fmt.Errorf("heartbeat interval %s: %w: must be positive", every, config.ErrConfig)
	}
	self, err := n.self()
	if err != nil {
		return nil, fmt.Errorf("heartbeats: this node is not certified: %w", err)
	}
	s := &heartbeatService{
		n: n, log: n.log, every: every, province: self.Code.Province(), operator: self.HasRole(crypto.RoleOperator),
		topics: map[court.CourtCode]*hbTopic{}, peers: make(map[peer.ID]*peerHealth, 64),
		newSubs: make(chan *pubsub.Subscription, 64), rescan: make(chan struct{}, 1),
	}
	if err := s.joinAll(n.trust.Trust()); err != nil {
		return nil, err
	}
	n.trust.OnInstall(func(*crypto.Trust) {
		select {
		case s.rescan <- struct{}{}:
		default:
		}
	})
	n.api.Handle("GET /v1/mesh", func(w http.ResponseWriter, r *http.Request) { api.WriteJSON(w, http.StatusOK, n.Mesh()) })
	n.api.Handle("GET /v1/alerts", func(w http.ResponseWriter, r *http.Request) { api.WriteJSON(w, http.StatusOK, n.Alerts()) })
	return s, nil
}

// provinces lists the provinces whose heartbeats this node follows: its
// own; on an operator node, every province the built-in court table or the
// bundle names, and 最高法 (the national operators' own topic).
func (s *heartbeatService) provinces(t *crypto.Trust) []court.CourtCode {
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
func (s *heartbeatService) joinAll(t *crypto.Trust) error {
	for _, p := range s.provinces(t) {
		s.mu.Lock()
		_, have := s.topics[p]
		s.mu.Unlock()
		if have {
			continue
		}
		name := cmproto.TopicHeartbeat(p)
		if err := s.n.ps.RegisterTopicValidator(name, s.n.metrics.Metered(name, s.validator(p)), pubsub.WithValidatorInline(true)); err != nil {
			return fmt.Errorf("heartbeat topic %s: %w", name, err)
		}
		topic, err := s.n.ps.Join(name)
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

// Serve publishes a heartbeat at once and then every interval, and drains
// the subscriptions, until ctx ends.
func (s *heartbeatService) Serve(ctx context.Context) error {
	s.mu.Lock()
	s.started = s.n.now()
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
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		if err := s.publish(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat not published", "reason", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.rescan:
			if err := s.joinAll(s.n.trust.Trust()); err != nil {
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

// build assembles this node's heartbeat.
func (s *heartbeatService) build() (*pb.Heartbeat, *crypto.Certificate, error) {
	n := s.n
	now := n.now()
	self, err := n.self()
	if err != nil {
		return nil, nil, fmt.Errorf("this node is not certified: %w", err)
	}
	hb := &pb.Heartbeat{
		Version: cmproto.HeartbeatVersion, Court: string(self.Code), SentAt: now.UnixMilli(),
		IntervalMs: uint32(min(s.every.Milliseconds(), 1<<31)), UptimeSeconds: max(int64(now.Sub(n.started).Seconds()), 0),
		Peers: uint32(len(n.h.Network().Peers())), BundleSequence: n.trust.Trust().Bundle().Sequence,
		SoftwareVersion: Version, TransferStates: map[string]uint32{},
	}
	if hb.IntervalMs == 0 {
		hb.IntervalMs = 1
	}
	length, head, err := n.db.AuditHead()
	if err != nil {
		return nil, nil, fmt.Errorf("audit head: %w", err)
	}
	if length > 0 {
		if hb.AuditHead, err = hex.DecodeString(head); err != nil || len(hb.AuditHead) != 32 {
			return nil, nil, fmt.Errorf("audit head record of entry %d is corrupt (run `courtmesh audit verify`)", length)
		}
		hb.AuditLength = length
		for _, p := range checkpointPositions(length) {
			es, err := n.db.AuditEntries(p, p)
			if err != nil {
				return nil, nil, fmt.Errorf("audit entry %d: %w", p, err)
			}
			if len(es) != 1 || es[0].Seq != p {
				return nil, nil, fmt.Errorf("audit entry %d is missing (run `courtmesh audit verify`)", p)
			}
			h, err := hex.DecodeString(es[0].Hash)
			if err != nil || len(h) != 32 {
				return nil, nil, fmt.Errorf("audit entry %d has a corrupt hash (run `courtmesh audit verify`)", p)
			}
			hb.AuditCheckpoints = append(hb.AuditCheckpoints, &pb.AuditCheckpoint{Length: p, Hash: h})
		}
	}
	// Count by state from the stored transfers, decoding the state only.
	raws, err := n.db.Transfers("")
	if err != nil {
		return nil, nil, fmt.Errorf("transfers: %w", err)
	}
	for _, b := range raws {
		var t struct {
			State string `json:"state"`
		}
		if json.Unmarshal(b, &t) == nil && t.State != "" && len(hb.TransferStates) < 32 {
			hb.TransferStates[t.State]++
		}
	}
	rec, err := record.Seal(peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}), n.key.Libp2p())
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

// publish signs and publishes one heartbeat on this node's province topic.
func (s *heartbeatService) publish(ctx context.Context) error {
	hb, self, err := s.build()
	if err != nil {
		return err
	}
	env, err := crypto.SealMessage(s.n.key, self.Serial, cmproto.PayloadHeartbeat, hb)
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
	return t.topic.Publish(ctx, b)
}

// validator is the inline gossipsub validator of a province's heartbeat
// topic: Reject a malformed heartbeat, a bad signature, an unknown,
// revoked or expired signer, or a signer of another province; Ignore a
// heartbeat not newer than the last one from its node.
func (s *heartbeatService) validator(province court.CourtCode) func(context.Context, peer.ID, *pubsub.Message) pubsub.ValidationResult {
	topic := cmproto.TopicHeartbeat(province)
	return func(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		res, err := s.validate(province, msg.Data)
		if res == pubsub.ValidationReject {
			s.log.Info("gossip rejected", "topic", topic, "from", from, "reason", err)
			s.n.metrics.GossipRejected.WithLabelValues(topic, metrics.RejectReason(err)).Inc()
		}
		return res
	}
}

func (s *heartbeatService) validate(province court.CourtCode, data []byte) (pubsub.ValidationResult, error) {
	now := s.n.now()
	env, err := crypto.UnmarshalEnvelope(data, cmproto.MaxGossipMessage)
	if err != nil {
		return pubsub.ValidationReject, err
	}
	signer, err := s.n.trust.Trust().Open(env, cmproto.PayloadHeartbeat, now)
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
	if time.UnixMilli(hb.GetSentAt()).After(now.Add(5 * time.Minute)) {
		// Another clock may be wrong: drop it without blaming the relay.
		return pubsub.ValidationIgnore, errors.New("heartbeat from the future")
	}
	if !s.record(signer, hb, now) {
		return pubsub.ValidationIgnore, court.ErrStale
	}
	if rec != nil && signer.PeerID != s.n.h.ID() {
		if cab, ok := peerstore.GetCertifiedAddrBook(s.n.h.Peerstore()); ok {
			// Courts dial each other from the newest signed address record.
			cab.ConsumePeerRecord(rec, max(10*s.every, peerstore.RecentlyConnectedAddrTTL))
		}
	}
	return pubsub.ValidationAccept, nil
}

// record keeps hb as the newest heartbeat of its signer and witnesses its
// audit head; it returns false for a heartbeat not newer than the last.
func (s *heartbeatService) record(signer *crypto.Certificate, hb *pb.Heartbeat, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ph := s.peers[signer.PeerID]
	if ph == nil {
		ph = &peerHealth{witnessed: map[uint64][32]byte{}}
		s.peers[signer.PeerID] = ph
	} else if hb.GetSentAt() <= ph.sentAt {
		return false
	}
	ph.serial, ph.court, ph.received, ph.sentAt, ph.hb = signer.Serial, signer.Code, now, hb.GetSentAt(), hb
	ph.witness(hb, now)
	if ph.audit != "" {
		s.log.Warn("audit log inconsistency", "court", signer.Code, "peer", signer.PeerID, "flag", ph.audit, "detail", ph.auditDetail)
	}
	return true
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

// Mesh reports every node this node follows (its province's; all on an
// operator node) as the bundle certifies them and their heartbeats show
// them, with the problems operators must act on.
func (n *Node) Mesh() []api.CourtHealth {
	return n.hb.mesh()
}

func (s *heartbeatService) mesh() []api.CourtHealth {
	now := s.n.now()
	t := s.n.trust.Trust()
	ours := t.Bundle().Sequence
	s.mu.Lock()
	defer s.mu.Unlock()
	follow := map[court.CourtCode]bool{}
	for p := range s.topics {
		follow[p] = true
	}
	// The newest certificate of each node of the provinces followed.
	certs := map[peer.ID]*crypto.Certificate{}
	for _, c := range t.Bundle().Certs {
		if c.PeerID == "" || !follow[c.Code.Province()] || (!c.HasRole(crypto.RoleCourt) && !c.HasRole(crypto.RoleOperator)) {
			continue
		}
		if prev, ok := certs[c.PeerID]; !ok || prev.NotBefore.Before(c.NotBefore) {
			certs[c.PeerID] = c
		}
	}
	ids := make(map[peer.ID]bool, len(certs)+len(s.peers))
	for p := range certs {
		ids[p] = true
	}
	for p := range s.peers {
		ids[p] = true
	}
	out := make([]api.CourtHealth, 0, len(ids))
	for p := range ids {
		ch := api.CourtHealth{PeerID: p.String(), Flags: []string{}}
		var serial uint64
		if c := certs[p]; c != nil {
			ch.Court, ch.Name, serial = string(c.Code), c.Name, c.Serial
		}
		ph := s.peers[p]
		if ph != nil && ch.Court == "" {
			ch.Court, serial = string(ph.court), ph.serial
			if c, err := t.BySerial(ph.serial, now); err == nil {
				ch.Name = c.Name
			}
		}
		revoked := false
		if _, err := t.BySerial(serial, now); err != nil {
			if !errors.Is(err, crypto.ErrRevoked) && ph == nil {
				continue // expired or withdrawn, never heard: not part of the mesh
			}
			revoked = errors.Is(err, crypto.ErrRevoked)
		}
		ch.Province = string(court.CourtCode(ch.Court).Province())
		every := s.every
		if ph != nil {
			hb := ph.hb
			// The sender's interval, but no node stays "online" for longer
			// than three of ours or of maxClaimedInterval by claiming a
			// long one.
			every = min(time.Duration(hb.GetIntervalMs())*time.Millisecond, max(s.every, maxClaimedInterval))
			ch.LastHeartbeat = ph.received.UTC()
			ch.Online = now.Sub(ph.received) <= 3*every
			ch.Version, ch.UptimeSeconds, ch.Peers = hb.GetSoftwareVersion(), hb.GetUptimeSeconds(), int(hb.GetPeers())
			ch.BundleSequence, ch.AuditLength = hb.GetBundleSequence(), hb.GetAuditLength()
			ch.AuditHead = hex.EncodeToString(hb.GetAuditHead())
			if len(hb.GetTransferStates()) > 0 {
				ch.TransferStates = make(map[string]int, len(hb.GetTransferStates()))
				for k, v := range hb.GetTransferStates() {
					ch.TransferStates[k] = int(v)
				}
			}
			if ph.audit != "" {
				ch.Flags = append(ch.Flags, ph.audit)
			}
			if ch.BundleSequence < ours {
				ch.Flags = append(ch.Flags, "bundle_behind")
			}
		}
		if revoked {
			ch.Flags = append(ch.Flags, "revoked")
			ch.Online = false
		}
		// Silent: heard before and not for three intervals, or never heard
		// although this node has listened for three intervals.
		if !ch.Online && !revoked && (ph != nil || (!s.started.IsZero() && now.Sub(s.started) > 3*every)) {
			ch.Flags = append(ch.Flags, "silent")
		}
		out = append(out, ch)
	}
	slices.SortFunc(out, func(a, b api.CourtHealth) int {
		return cmpStrings(a.Province, b.Province, a.Court, b.Court, a.PeerID, b.PeerID)
	})
	return out
}

// cmpStrings compares pairs in turn: a1 with b1, then a2 with b2, ...
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// auditProblem returns the audit inconsistency witnessed for a peer.
func (s *heartbeatService) auditProblem(p peer.ID) (kind, detail string, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ph := s.peers[p]; ph != nil {
		return ph.audit, ph.auditDetail, ph.auditSince
	}
	return "", "", time.Time{}
}

// Alerts lists the node-level problems operators and the court must act
// on: silent, revoked and audit-inconsistent nodes, a trust bundle that
// expires within seven days, and acceptances overdue. Messages are in
// Chinese and English and carry no personal data.
func (n *Node) Alerts() []api.Alert {
	now := n.now()
	out := []api.Alert{}
	for _, ch := range n.Mesh() {
		for _, f := range ch.Flags {
			switch f {
			case "silent":
				msg := fmt.Sprintf("%s 节点无心跳，请联系该院信息技术部门 / node of %s is silent: no heartbeat", ch.Court, ch.Court)
				if !ch.LastHeartbeat.IsZero() {
					msg = fmt.Sprintf("%s 节点自 %s 起无心跳，请联系该院信息技术部门 / node of %s silent since %s", ch.Court, ch.LastHeartbeat.Format(time.RFC3339), ch.Court, ch.LastHeartbeat.Format(time.RFC3339))
				}
				out = append(out, api.Alert{Kind: "node_silent", Severity: "warning", Court: ch.Court, Message: msg, Since: ch.LastHeartbeat})
			case "revoked":
				out = append(out, api.Alert{Kind: "node_revoked", Severity: "critical", Court: ch.Court,
					Message: fmt.Sprintf("%s 节点证书已吊销 / certificate of the node of %s is revoked", ch.Court, ch.Court)})
			case "audit_forked", "audit_rewound":
				p, _ := peer.Decode(ch.PeerID)
				_, detail, since := n.hb.auditProblem(p)
				out = append(out, api.Alert{Kind: "audit_inconsistent", Severity: "critical", Court: ch.Court, Since: since,
					Message: fmt.Sprintf("%s 审计日志不一致（%s），请核查该节点 / %s; run `courtmesh audit verify` on that node", ch.Court, f, detail)})
			}
		}
	}
	b := n.trust.Trust().Bundle()
	switch st := b.Status(now); st {
	case crypto.BundleExpiring, crypto.BundleGraced, crypto.BundleDead:
		sev := "warning"
		if st != crypto.BundleExpiring {
			sev = "critical"
		}
		out = append(out, api.Alert{Kind: "bundle_expiring", Severity: sev, Since: b.ExpiresAt.Add(-crypto.BundleWarnBefore).UTC(),
			Message: fmt.Sprintf("信任包 %d 于 %s 到期，请向国家运维申请新信任包 / trust bundle %d expires %s: ask the national operator for a new one",
				b.Sequence, b.ExpiresAt.UTC().Format(time.DateOnly), b.Sequence, b.ExpiresAt.UTC().Format(time.RFC3339))})
	}
	if ts, _, err := n.workflow.List(context.Background(), api.TransferQuery{Overdue: true, Limit: 1000}); err == nil {
		for _, t := range ts {
			a := api.Alert{Kind: "acceptance_overdue", Severity: "warning", Court: string(t.Receiver), Transfer: string(t.ID),
				Message: fmt.Sprintf("%s 未在 %s 前接受移送 %s / %s has not accepted transfer %s, due %s", t.Receiver, t.AcceptBy, t.ID, t.Receiver, t.ID, t.AcceptBy)}
			if d, err := court.ParseDate(t.AcceptBy); err == nil {
				a.Since = d.AddDate(0, 0, 1).Start().UTC()
			}
			out = append(out, a)
		}
	} else {
		n.log.Warn("alerts: could not list overdue transfers", "reason", err)
	}
	return out
}
