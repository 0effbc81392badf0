package records

import (
	"context"
	"fmt"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// A revoked key's log.
//
// A revocation may pin the last trusted head of the revoked key's record
// log (crypto.Revocation.LastTrusted: a position and the chain hash of the
// log up to it, crypto.ChainRecordLog). The records up to that position
// stay valid for every node, including one that joins later; records
// after it are refused. A node that lacks part of the trusted log takes
// it only by log sync, and only as a whole range that, chained onto the
// records it holds, ends in the pinned head: a stolen key cannot slip a
// back-dated record into the trusted part, since no other sequence of
// records hashes to that head. Over gossip a trusted-part record the node
// does not hold is ignored (sync brings it, checked).
//
// A refused record is remembered (revokedMemo), so that neither gossip
// nor sync fetches, refuses and audits it again at every interval: the
// next pull of that log stops before it. The memo lives in memory and is
// keyed by the bundle in force: after a restart or a newer bundle, each
// such record is refused (and audited) once more.

// maxRevokedMemo bounds the refused records remembered. A log stops at
// its first refused record, so one per revoked key is the usual case;
// past the bound the memo is emptied and each record is at worst refused
// once more.
const maxRevokedMemo = 1024

type revokedKey struct {
	issuer peer.ID
	seq    uint64
}

// revokedMemo remembers the records refused because their signer is
// revoked (by position), and the peers whose copy of a revoked key's
// trusted log did not match its pinned head. Entries hold the sequence of
// the bundle they were refused under and count only while it is in force.
// Safe for concurrent use.
type revokedMemo struct {
	mu       sync.Mutex
	refused  map[revokedKey]uint64 // -> bundle sequence
	mismatch map[[2]peer.ID]uint64 // (issuer, serving peer) -> bundle sequence
}

// note remembers a refused record and reports whether it was refused
// under this bundle already (then it was audited already).
func (m *revokedMemo) note(issuer peer.ID, seq, bundle uint64) (again bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refused == nil || len(m.refused) >= maxRevokedMemo {
		m.refused = make(map[revokedKey]uint64)
	}
	k := revokedKey{issuer, seq}
	again = m.refused[k] == bundle
	m.refused[k] = bundle
	return again
}

// blocked reports whether position seq of issuer's log was refused under
// this bundle.
func (m *revokedMemo) blocked(issuer peer.ID, seq, bundle uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refused[revokedKey{issuer, seq}] == bundle
}

// noteMismatch remembers that p served a copy of issuer's trusted log that
// does not match its pinned head, and reports whether it was seen already.
func (m *revokedMemo) noteMismatch(issuer, p peer.ID, bundle uint64) (again bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mismatch == nil || len(m.mismatch) >= maxRevokedMemo {
		m.mismatch = make(map[[2]peer.ID]uint64)
	}
	k := [2]peer.ID{issuer, p}
	again = m.mismatch[k] == bundle
	m.mismatch[k] = bundle
	return again
}

func (m *revokedMemo) mismatched(issuer, p peer.ID, bundle uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mismatch[[2]peer.ID{issuer, p}] == bundle
}

func (m *revokedMemo) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.refused)
}

// ErrUnpinned refuses, for now, a record of the trusted part of a revoked
// key's log that arrived alone (by gossip or a direct ingest): it is taken
// only by log sync, with the whole range up to the head the revocation
// pins (court.ErrStale: gossip ignores it).
var ErrUnpinned = court.Errorf(court.ErrStale, "a revoked key's record before its cut-off is taken only by log sync, checked against the head its revocation pins")

// LogPosition returns the position seq of issuer's log as this node holds
// it: the chain hash of its records 1..seq (crypto.ChainRecordLog). With
// seq 0 it is the complete log's head. It reads the log (a page at a
// time): meant for operators and for checking a revoked key's log, not for
// every record.
func (s *Service) LogPosition(issuer peer.ID, seq uint64) (crypto.LogPosition, error) {
	id := court.PeerID(issuer.String())
	head, err := s.db.LogHead(id)
	if err != nil {
		return crypto.LogPosition{}, err
	}
	if seq == 0 {
		seq = head
	}
	if seq > head {
		return crypto.LogPosition{}, court.Errorf(court.ErrNotFound, "the log of %s is complete up to record %d on this node, not %d", issuer, head, seq)
	}
	h, err := s.chain(id, crypto.LogPosition{}, seq)
	return crypto.LogPosition{Seq: seq, Head: h}, err
}

// chain extends from (a position of issuer's stored log) to position to,
// reading the stored records.
func (s *Service) chain(issuer court.PeerID, from crypto.LogPosition, to uint64) ([32]byte, error) {
	h := from.Head
	for next := from.Seq + 1; next <= to; {
		recs, err := s.db.LogRange(issuer, next, to, maxRangePerRequest)
		if err != nil {
			return h, err
		}
		if len(recs) == 0 {
			return h, court.Errorf(court.ErrNotFound, "record %d of the log of %s is missing", next, issuer)
		}
		for _, raw := range recs {
			h = crypto.ChainRecordLog(h, raw)
		}
		next += uint64(len(recs))
	}
	return h, nil
}

// Head is this node's own log head: its length and chain hash, which its
// heartbeat carries so that peers witness it (a revocation of this node's
// key pins one such head). It extends a cached position by the records
// issued since.
func (s *Service) Head() (crypto.LogPosition, error) {
	s.headMu.Lock()
	defer s.headMu.Unlock()
	self := court.PeerID(s.h.ID().String())
	n, err := s.db.LogHead(self)
	if err != nil {
		return crypto.LogPosition{}, err
	}
	if n < s.head.Seq {
		s.head = crypto.LogPosition{} // a restored store: start again
	}
	if n == s.head.Seq {
		return s.head, nil
	}
	h, err := s.chain(self, s.head, n)
	if err != nil {
		return crypto.LogPosition{}, err
	}
	s.head = crypto.LogPosition{Seq: n, Head: h}
	return s.head, nil
}

// pullRevoked pulls from p what may still be taken of the log of issuer,
// whose key is revoked (rev): the missing part of its trusted log, as one
// range checked against the pinned head; and, once, the first record
// after it, which is refused and audited in the signer's name.
func (s *Service) pullRevoked(ctx context.Context, p, issuer peer.ID, signer *crypto.Certificate, rev crypto.Revocation, upto uint64) error {
	id := court.PeerID(issuer.String())
	bundle := s.trust.Trust().Bundle().Sequence
	have, err := s.db.LogHead(id)
	if err != nil {
		return err
	}
	if last := rev.LastTrusted; last != nil && have < last.Seq {
		if upto < last.Seq || s.revoked.mismatched(issuer, p, bundle) {
			return nil // this peer cannot complete the trusted log (or served a false one)
		}
		if err := s.pullTrusted(ctx, p, issuer, signer, *last, have, bundle); err != nil {
			return err
		}
		if have, err = s.db.LogHead(id); err != nil || have < last.Seq {
			return err
		}
	}
	if last := rev.LastTrusted; last != nil && have >= last.Seq {
		s.checkStored(issuer, signer, *last, bundle)
	}
	next := have + 1
	if upto < next {
		return nil
	}
	if s.revoked.blocked(issuer, next, bundle) {
		s.skippedRevoked.Add(1)
		s.log.Debug("sync skipped: the next record of a revoked key was refused already", "issuer", issuer, "court", signer.Code, "serial", signer.Serial, "sequence", next)
		return nil
	}
	_, err = s.pullOnce(ctx, p, issuer, next, next)
	return err
}

// pullTrusted pulls records have+1..last.Seq of a revoked key's log from p
// and takes them only if, chained onto the records this node holds, they
// end in the pinned head.
func (s *Service) pullTrusted(ctx context.Context, p, issuer peer.ID, signer *crypto.Certificate, last crypto.LogPosition, have, bundle uint64) error {
	id := court.PeerID(issuer.String())
	var recs [][]byte
	for from := have + 1; from <= last.Seq; {
		got, err := s.fetchRange(ctx, p, issuer, from, last.Seq)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return nil // the peer has a gap: try another
		}
		recs = append(recs, got...)
		from += uint64(len(got))
	}
	h, err := s.chain(id, crypto.LogPosition{}, have)
	if err != nil {
		return err
	}
	match := len(recs) == int(last.Seq-have)
	for i, raw := range recs {
		h = crypto.ChainRecordLog(h, raw)
		if seq, ok := recordSeq(raw); !ok || seq != have+1+uint64(i) {
			match = false
		}
	}
	if !match || h != last.Head {
		if !s.revoked.noteMismatch(issuer, p, bundle) {
			err := fmt.Errorf("%w: records %d to %d of the log of %s as %s serves them do not end in the head its revocation pins (record %d, %x…): not taken",
				crypto.ErrRevoked, have+1, last.Seq, signer, p, last.Seq, last.Head[:6])
			s.log.Warn("revoked key's log refused: it does not match the pinned head", "court", signer.Code, "serial", signer.Serial, "from", p, "records", fmt.Sprintf("%d-%d", have+1, last.Seq))
			s.metrics.GossipRejected.WithLabelValues(cmproto.TopicTransfers, "revoked").Inc()
			s.auditDone(storage.AuditEntry{Event: "record.rejected", Outcome: "rejected", Peer: issuer.String(), Court: string(signer.Code),
				Detail: fmt.Sprintf("signer %s serial %d, relayed by %s: %v", signer.Code, signer.Serial, p, err)})
		}
		return nil
	}
	for _, raw := range recs {
		if err := s.ingest(raw, p, true); err != nil && outcome(err) == pubsub.ValidationReject {
			s.reject(p, err)
		}
	}
	s.log.Info("revoked key's trusted log taken, checked against its pinned head", "court", signer.Code, "serial", signer.Serial, "from", p, "records", fmt.Sprintf("%d-%d", have+1, last.Seq))
	return nil
}

// checkStored checks, once per bundle, that this node's own copy of a
// revoked key's trusted log ends in the head its revocation pins. A node
// that took a forged record before the revocation arrived holds another
// chain: that cannot be undone here, so it is logged at error level and
// audited, for the operator to restore the log from a node that agrees.
func (s *Service) checkStored(issuer peer.ID, signer *crypto.Certificate, last crypto.LogPosition, bundle uint64) {
	if s.revoked.noteMismatch(issuer, s.h.ID(), bundle) {
		return // checked under this bundle already
	}
	h, err := s.chain(court.PeerID(issuer.String()), crypto.LogPosition{}, last.Seq)
	if err != nil || h == last.Head {
		return
	}
	s.log.Error("this node's copy of a revoked key's log does not end in the head its revocation pins", "court", signer.Code, "serial", signer.Serial, "record", last.Seq)
	s.auditDone(storage.AuditEntry{Event: "record.rejected", Outcome: "rejected", Peer: issuer.String(), Court: string(signer.Code),
		Detail: fmt.Sprintf("signer %s serial %d: this node's copy of its log up to record %d does not end in the head its revocation pins (%x…): %v", signer.Code, signer.Serial, last.Seq, last.Head[:6], crypto.ErrRevoked)})
}

// recordSeq reads the position a raw record claims (unverified).
func recordSeq(raw []byte) (uint64, bool) {
	env, err := crypto.UnmarshalEnvelope(raw, cmproto.MaxGossipMessage)
	if err != nil {
		return 0, false
	}
	var r pb.Record
	if err := proto.Unmarshal(env.Payload, &r); err != nil {
		return 0, false
	}
	return r.GetSequence(), true
}

// checkTrusted decides on a record in the trusted part of a revoked key's
// log (r.Revocation set) that came without the pinned range's check:
// one the log already holds is a duplicate (or, different, equivocation,
// which HasRecord reports); one it lacks waits for log sync.
func (s *Service) checkTrusted(r *cmproto.Record, raw []byte) error {
	have, err := s.db.HasRecord(court.PeerID(r.SignerPeer().String()), r.Seq, raw)
	if err != nil || have {
		return err
	}
	return fmt.Errorf("record %d of %s (serial %d): %w", r.Seq, r.Issuer, r.Signer.Serial, ErrUnpinned)
}

// errRevokedAgain reports a revoked record refused before under the same
// bundle (court.ErrStale: ignored, not audited again).
func errRevokedAgain(e *cmproto.RevokedRecordError) error {
	return fmt.Errorf("%w: record %d of %s (serial %d) was refused already: its key is revoked", court.ErrStale, e.Seq, e.Signer.Code, e.Signer.Serial)
}
