package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// LoadComplaint returns the stored state of a complaint, or nil.
func (s *Service) LoadComplaint(id court.TransferID) (*cmproto.Complaint, error) {
	b, err := s.db.Complaint(string(id))
	if errors.Is(err, court.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return DecodeComplaint(b)
}

// DecodeComplaint decodes a stored complaint.
func DecodeComplaint(b []byte) (*cmproto.Complaint, error) {
	var c cmproto.Complaint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, court.Errorf(court.ErrCorrupt, "a stored complaint does not decode: %v", err)
	}
	if c.Version != cmproto.ComplaintVersion {
		return nil, court.Errorf(court.ErrCorrupt, "stored complaint %s has version %d; this build reads version %d", c.ID, c.Version, cmproto.ComplaintVersion)
	}
	return &c, nil
}

func complaintWrite(c *cmproto.Complaint) (*storage.ComplaintWrite, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return &storage.ComplaintWrite{ID: string(c.ID), Case: c.CaseNumber, Supervisor: c.Supervisor, Complained: c.Complained,
		AnswerBy: c.AnswerBy, Answered: c.Answered(), Data: b}, nil
}

// applyComplaint applies a complaint record under s.mu, committing it
// with its log entry (lr nil for a held record already logged), and
// retries an answer held for it.
func (s *Service) applyComplaint(r *cmproto.Record, lr *storage.LogRecord) error {
	cur, err := s.LoadComplaint(r.Transfer)
	if err != nil {
		return err
	}
	next, aerr := cmproto.ApplyComplaint(cur, r)
	switch {
	case aerr == nil:
		w, err := complaintWrite(next)
		if err != nil {
			return err
		}
		if err := s.db.Apply(storage.Commit{Record: lr, Complaint: w}); err != nil {
			return err
		}
		s.log.Info("complaint record applied", "complaint", r.Transfer, "kind", r.Kind, "issuer", r.Issuer)
		s.metrics.Records.WithLabelValues(string(r.Kind), "applied").Inc()
		s.releaseHeldComplaint(r.Transfer)
		return nil
	case errors.Is(aerr, cmproto.ErrHeld):
		if err := s.db.Apply(storage.Commit{Record: lr, Hold: &storage.Held{Transfer: string(r.Transfer), Hash: r.HashHex(), Raw: r.Raw}}); err != nil {
			return err
		}
		s.metrics.Records.WithLabelValues(string(r.Kind), "held").Inc()
		return aerr
	default:
		if lr != nil {
			if err := s.db.Apply(storage.Commit{Record: lr}); err != nil {
				return err
			}
		}
		s.metrics.Records.WithLabelValues(string(r.Kind), "refused").Inc()
		return aerr
	}
}

// releaseHeldComplaint applies an answer that arrived before its
// complaint.
func (s *Service) releaseHeldComplaint(id court.TransferID) {
	held, err := s.db.HeldRecords(string(id))
	if err != nil {
		return
	}
	for _, h := range held {
		r, err := cmproto.DecodeRecord(h.Raw, s.trust.Trust(), s.now())
		if err != nil || !r.IsComplaint() {
			s.db.Apply(storage.Commit{Unhold: &h})
			continue
		}
		cur, err := s.LoadComplaint(id)
		if err != nil {
			return
		}
		next, aerr := cmproto.ApplyComplaint(cur, r)
		if aerr != nil {
			if !errors.Is(aerr, cmproto.ErrHeld) {
				s.db.Apply(storage.Commit{Unhold: &h})
				s.reject(r.SignerPeer(), fmt.Errorf("complaint %s: %w", id, aerr))
			}
			continue
		}
		w, err := complaintWrite(next)
		if err != nil {
			return
		}
		if err := s.db.Apply(storage.Commit{Complaint: w, Unhold: &h}); err != nil {
			return
		}
		s.log.Info("held complaint record applied", "complaint", id, "kind", r.Kind, "issuer", r.Issuer)
	}
}

// IssueComplaint signs a complaint record of this court (a PartyComplaint
// or a ComplaintAnswer) as the next entry of its log, applies it locally
// (refusing it, and consuming no sequence, if it does not apply) and
// publishes it.
func (s *Service) IssueComplaint(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Complaint, error) {
	now := s.now()
	self, err := s.trust.Trust().ByPeer(s.h.ID(), now)
	if err != nil {
		return nil, fmt.Errorf("this node is not certified: %w", err)
	}
	s.mu.Lock()
	head, err := s.db.LogHead(court.PeerID(s.h.ID().String()))
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	at := s.issueTime(now)
	raw, err := cmproto.SealRecord(s.signer, self, head+1, at, id, body)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	r, err := cmproto.DecodeRecord(raw, s.trust.Trust(), at)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if !r.IsComplaint() {
		s.mu.Unlock()
		return nil, court.Errorf(court.ErrInvalid, "%s is not a complaint record", r.Kind)
	}
	cur, err := s.LoadComplaint(id)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	next, err := cmproto.ApplyComplaint(cur, r)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	w, err := complaintWrite(next)
	if err == nil {
		err = s.db.Apply(storage.Commit{Record: &storage.LogRecord{Issuer: court.PeerID(s.h.ID().String()), Seq: head + 1, Raw: raw}, Complaint: w})
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.log.Info("complaint record issued", "complaint", id, "kind", r.Kind, "sequence", head+1)
	s.metrics.Records.WithLabelValues(string(r.Kind), "issued").Inc()
	if err := s.topic.Publish(ctx, raw); err != nil {
		s.log.Warn("publish failed; peers will sync it", "complaint", id, "reason", err)
	}
	return next, nil
}
