package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// Ranges of records.
//
// A sync response brings up to maxRangePerRequest records of one log.
// IngestRange checks each of them exactly as Ingest does (envelope,
// signature, certificate in force under the bundle in force, revocation
// cut-off, body, state machine), with the same outcome and error for
// each, in their order; what differs is the store: a run of records is
// kept and applied through one storage.Batch, one transaction, instead of
// one transaction (and one hand-off to the store's writer) per record,
// and the counters several records move are written once. What follows a
// record's commit (its log line and metrics, the state-change and
// applied hooks, the release of records held for its transfer) runs after
// the batch commits, in the records' order, still under s.mu, which a
// range takes for one run at a time.
//
// A run ends when a new bundle comes into force (the records after it
// are decoded again under the new one), before a record that takes the
// one-at-a-time path (a complaint, or a revoked key's record, which are
// rare), at a size bound (maxBatchRecords, storage.MaxBatchBytes), and
// after a record applied to a transfer that has records held for it
// (their release reads the store as it stands after that record). If a batch fails in the store (its
// commit, a read, or storage.ErrBatchFull), nothing of it was written and
// its records are kept and applied again one at a time.

// maxBatchRecords bounds the records applied in one storage.Batch, and
// so how long a run holds s.mu (about 100 µs of CPU per record besides
// its signature, checked before).
const maxBatchRecords = 128

// maxIngestGroup bounds the records of a sync response read before they
// are ingested (pullOnce), and so the memory a response holds.
const maxIngestGroup = 256

// decoded is a record of a range as DecodeRecord returned it: with r nil
// it was refused (err); with r and err set it is authentic but invalid.
type decoded struct {
	raw []byte
	r   *cmproto.Record
	err error
}

// IngestRange ingests the records of one sync response from peer from,
// in order, as Ingest would ingest each one after the other, and returns
// each record's error (nil where it was applied). See "Ranges of
// records" above.
func (s *Service) IngestRange(raws [][]byte, from peer.ID) []error {
	errs := make([]error, len(raws))
	ds := make([]decoded, len(raws))
	// Decoded (the signatures checked) outside the lock, under the bundle
	// in force; each run is applied under the lock only if that bundle is
	// still in force, else what is left is decoded again under the new
	// one: a revocation installed meanwhile applies to every record not
	// yet applied, as it would to a record ingested alone after it.
	decode := func(from int) *crypto.Trust {
		tr := s.trust.Trust()
		decodeAll(ds[from:], raws[from:], tr, s.now)
		return tr
	}
	tr := decode(0)
	for i := 0; i < len(ds); {
		// The lock is taken for one run at a time, so that gossip's
		// validator, which takes it too, waits for one run at most.
		s.mu.Lock()
		if cur := s.trust.Trust(); cur != tr {
			s.mu.Unlock()
			tr = decode(i)
			continue
		}
		d := ds[i]
		switch {
		case d.r == nil:
			errs[i] = s.refused(d.err)
			i++
		case !batchable(d.r):
			errs[i] = s.ingestRecord(d.r, d.raw, from, false, d.err)
			i++
		default:
			i += s.applyBatch(ds[i:], from, tr, errs[i:])
		}
		s.mu.Unlock()
	}
	return errs
}

// decodeAll decodes raws into ds under tr, on as many cores as the
// process may use (the signatures are most of the CPU a record costs,
// and they need no lock): a node catching up applies records sooner,
// for the same CPU.
func decodeAll(ds []decoded, raws [][]byte, tr *crypto.Trust, now func() time.Time) {
	one := func(i int) {
		r, err := cmproto.DecodeRecord(raws[i], tr, now())
		ds[i] = decoded{raw: raws[i], r: r, err: err}
	}
	workers := min(runtime.GOMAXPROCS(0), len(raws)/minDecodeShare)
	if workers <= 1 {
		for i := range raws {
			one(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(raws); i += workers {
				one(i)
			}
		})
	}
	wg.Wait()
}

// minDecodeShare is the fewest records worth a goroutine of decodeAll.
const minDecodeShare = 16

// batchable reports whether r may be applied in a batch: not a complaint
// (their own state and release), not a revoked key's record (checked
// against the log as stored).
func batchable(r *cmproto.Record) bool {
	return !r.IsComplaint() && r.Revocation == nil
}

// applyBatch keeps and applies a run of ds from its start in one
// storage.Batch, under s.mu, sets the run's errors in errs and returns its
// length (at least 1: ds[0] is batchable).
func (s *Service) applyBatch(ds []decoded, from peer.ID, tr *crypto.Trust, errs []error) int {
	var (
		n     int
		res   []error
		after []func()
	)
	// The log's name of each signer, encoded once per run (base58).
	issuers := map[peer.ID]court.PeerID{}
	issuer := func(p peer.ID) court.PeerID {
		id, ok := issuers[p]
		if !ok {
			id = court.PeerID(p.String())
			issuers[p] = id
		}
		return id
	}
	err := s.db.Batch(func(b *storage.Batch) error {
		// A conflicting commit runs this again from the start.
		n, res, after = 0, make([]error, 0, len(ds)), after[:0]
		for _, d := range ds {
			if n > 0 && (d.r == nil || !batchable(d.r) || n >= maxBatchRecords || b.Size() >= storage.MaxBatchBytes) {
				break
			}
			if n > 0 && s.trust.Trust() != tr {
				// A new bundle: the rest is checked again under it
				// (IngestRange), as a record ingested alone after it.
				break
			}
			n++
			r := d.r
			lr := &storage.LogRecord{Issuer: issuer(r.SignerPeer()), Seq: r.Seq, Raw: d.raw}
			have, herr := b.HasRecord(lr.Issuer, lr.Seq, d.raw)
			if errors.Is(herr, storage.ErrEquivocation) {
				res = append(res, fmt.Errorf("%s from %s: %w", r.Kind, r.Issuer, herr))
				after = append(after, func() { s.auditEquivocation(r, from) })
				continue
			}
			if herr != nil {
				return herr
			}
			if have {
				res = append(res, cmproto.ErrDuplicate)
				after = append(after, func() { s.metrics.Records.WithLabelValues(string(r.Kind), "duplicate").Inc() })
				continue
			}
			if d.err != nil {
				// Authentic but invalid: keep it as evidence, act on nothing.
				if err := b.Apply(storage.Commit{Record: lr}); err != nil {
					return err
				}
				res = append(res, d.err)
				continue
			}
			cur, err := loadIn(b, r.Transfer)
			if err != nil {
				return err
			}
			next, aerr := cmproto.Apply(cur, r, tr, s.rules)
			switch {
			case aerr == nil:
				w, err := s.transferRecord(next)
				if err != nil {
					return err
				}
				if err := b.Apply(storage.Commit{Record: lr, TransferRecord: w}); err != nil {
					return err
				}
				res = append(res, nil)
				after = append(after, func() {
					s.log.Info("transfer record applied", "transfer", r.Transfer, "kind", r.Kind, "issuer", r.Issuer, "state", next.State)
					s.metrics.Records.WithLabelValues(string(r.Kind), "applied").Inc()
					s.changed(next)
					s.applied(r, next)
				})
				held, err := b.HasHeld(string(r.Transfer))
				if err != nil {
					return err
				}
				if held {
					// Their release reads the store as this record left
					// it: the batch ends here.
					after = append(after, func() { s.releaseHeld(r.Transfer) })
					return nil
				}
			case errors.Is(aerr, cmproto.ErrHeld):
				if err := b.Apply(storage.Commit{Record: lr, Hold: &storage.Held{Transfer: string(r.Transfer), Hash: r.HashHex(), Raw: r.Raw}}); err != nil {
					return err
				}
				res = append(res, aerr)
				after = append(after, func() {
					s.log.Info("transfer record held until its predecessor arrives", "transfer", r.Transfer, "kind", r.Kind, "issuer", r.Issuer)
					s.metrics.Records.WithLabelValues(string(r.Kind), "held").Inc()
				})
			default:
				if err := b.Apply(storage.Commit{Record: lr}); err != nil {
					return err
				}
				res = append(res, aerr)
				after = append(after, func() { s.metrics.Records.WithLabelValues(string(r.Kind), "refused").Inc() })
			}
		}
		return nil
	})
	if err != nil {
		// Nothing of the batch was written: the same records one at a
		// time, each in its own transaction, as Ingest keeps them.
		for k := range n {
			errs[k] = s.ingestRecord(ds[k].r, ds[k].raw, from, false, ds[k].err)
		}
		return n
	}
	for k, e := range res {
		if e != nil {
			errs[k] = &recordError{transfer: ds[k].r.Transfer, err: e}
		}
	}
	for _, f := range after {
		f()
	}
	return n
}

// loadIn returns the state of a transfer as batch b holds it, or nil.
func loadIn(b *storage.Batch, id court.TransferID) (*cmproto.Transfer, error) {
	raw, err := b.Transfer(string(id))
	if errors.Is(err, court.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t cmproto.Transfer
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("transfer %s: %w", id, court.ErrCorrupt)
	}
	return &t, nil
}
