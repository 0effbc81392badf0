package evidence

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Store is what an export reads from the node's store; *storage.DB
// implements it.
type Store interface {
	GetTransfer(id string) (storage.TransferRecord, error)
	LogHead(issuer court.PeerID) (uint64, error)
	LogRange(issuer court.PeerID, from, to uint64, max int) ([][]byte, error)
	AuditHead() (uint64, string, error)
	AuditEntries(from, to uint64) ([]storage.AuditEntry, error)
	PublishedHead() ([]byte, error)
}

var _ Store = (*storage.DB)(nil)

// Auditor writes the export's own audit entry before the file is
// delivered (node/audit.Service.Before): an export that cannot be
// audited is refused.
type Auditor interface {
	Before(e storage.AuditEntry) error
}

// Deps is what an export is built from. Every field is required unless
// it says otherwise.
type Deps struct {
	Store Store
	// Dir is the node's data directory: the pinned root and the kept
	// trust bundles.
	Dir   datadir.Dir
	Key   crypto.Signer // the node key: signs the audit head
	Audit Auditor
	// Actor names who asked (api.ActorFrom), for the audit entry.
	Actor string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// logPage is how many records of a log, or audit entries, are read at
// once.
const logPage = 1024

// Export writes the evidence file of transfer id to w. It reads the
// transfer, finds each of its records in its signer's log, adds the
// certificates and every kept trust bundle, writes the export's audit
// entry (refusing the export if it cannot), then adds this node's audit
// log from the first entry naming the transfer to the head and signs
// that head. It returns the file as written.
//
// An export reads the logs of the transfer's signers and the audit log
// from the start: it is a rare, deliberate act, not a routine read.
func Export(w io.Writer, d Deps, id court.TransferID) (*File, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	rec, err := d.Store.GetTransfer(string(id))
	if err != nil {
		return nil, err
	}
	var t cmproto.Transfer
	if err := json.Unmarshal(rec.Body, &t); err != nil {
		return nil, court.Errorf(court.ErrCorrupt, "transfer %s: stored state does not decode: %v", id, err)
	}
	rootRaw, err := readRoot(d.Dir)
	if err != nil {
		return nil, err
	}
	root, err := datadir.ParseRoot(rootRaw)
	if err != nil {
		return nil, err
	}
	rawBundles, err := datadir.KeptBundles(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("trust bundles: %w", err)
	}
	var bundles []*crypto.Bundle
	for _, raw := range rawBundles {
		b, err := crypto.OpenBundle(root, raw)
		if err != nil {
			return nil, fmt.Errorf("kept trust bundle: %w", err)
		}
		bundles = append(bundles, b)
	}
	slices.SortFunc(bundles, func(a, b *crypto.Bundle) int { return cmp.Compare(a.Sequence, b.Sequence) })
	newest := bundles[len(bundles)-1]
	self, err := selfCert(newest, d.Key)
	if err != nil {
		return nil, err
	}
	f := &File{Format: Format, Transfer: string(id), ExportedAt: d.Now().UTC(),
		Exporter: Exporter{Court: string(self.Code), Serial: self.Serial}, Root: NewBlob("national root "+string(root.Code), rootRaw)}
	for _, b := range bundles {
		f.Bundles = append(f.Bundles, NewBlob(fmt.Sprintf("trust bundle %d issued %s", b.Sequence, b.IssuedAt.UTC().Format(time.RFC3339)), b.Raw))
	}

	// The records, found in their signers' logs by hash.
	raws, signers, err := findRecords(d.Store, bundles, &t)
	if err != nil {
		return nil, err
	}
	for i, ref := range t.Records {
		f.Records = append(f.Records, NewBlob(fmt.Sprintf("%s by %s", ref.Kind, ref.Issuer), raws[i]))
	}

	// The certificates: each signer's, the exporter's, and their issuers'.
	serials := append(slices.Clone(signers), self.Serial)
	certs := map[uint64]*crypto.Certificate{}
	for _, b := range bundles {
		for _, c := range b.Certs {
			certs[c.Serial] = c
		}
	}
	want := map[uint64]bool{}
	for _, s := range serials {
		c := certs[s]
		if c == nil {
			return nil, court.Errorf(court.ErrCorrupt, "certificate serial %d signed a record of %s but no kept bundle holds it", s, id)
		}
		want[s] = true
		if !c.SelfSigned() && c.IssuerSerial != root.Serial {
			want[c.IssuerSerial] = true
		}
	}
	for _, s := range slices.Sorted(maps.Keys(want)) {
		c := certs[s]
		if c == nil {
			return nil, court.Errorf(court.ErrCorrupt, "issuer certificate serial %d is in no kept bundle", s)
		}
		raw, err := c.Envelope.Marshal()
		if err != nil {
			return nil, err
		}
		f.Certificates = append(f.Certificates, NewBlob(fmt.Sprintf("%s serial %d", c.Code, c.Serial), raw))
	}

	// Audited before the file is written: the entry is part of the
	// segment the file carries.
	if err := d.Audit.Before(storage.AuditEntry{Event: "evidence.exported", Outcome: "ok", Transfer: string(id), Case: t.CaseNumber,
		Detail: fmt.Sprintf("evidence of transfer %s (%d records, %d bundles) exported by %s", id, len(f.Records), len(f.Bundles), actor(d.Actor))}); err != nil {
		return nil, err
	}
	if err := addAudit(f, d, id, self); err != nil {
		return nil, err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return f, nil
}

func actor(a string) string {
	if a == "" {
		return "unnamed caller"
	}
	return a
}

func readRoot(d datadir.Dir) ([]byte, error) {
	raw, err := os.ReadFile(d.Path(datadir.RootFile))
	if err != nil {
		return nil, fmt.Errorf("the national root certificate: %w", err)
	}
	return raw, nil
}

// selfCert is the exporter's certificate in the newest bundle: the one
// whose key is the node key.
func selfCert(b *crypto.Bundle, key crypto.Signer) (*crypto.Certificate, error) {
	for _, c := range slices.Backward(b.Certs) {
		if c.SigningKey != nil && c.SigningKey.Equals(key.Public()) {
			return c, nil
		}
	}
	return nil, court.Errorf(court.ErrPermission, "trust bundle %d certifies no key of this node: it cannot sign the evidence", b.Sequence)
}

// findRecords returns the raw record of each of t's record references,
// in order, and the serials that signed them. It reads the logs of every
// node certified for each issuing court, from the start, until all are
// found.
func findRecords(st Store, bundles []*crypto.Bundle, t *cmproto.Transfer) ([][]byte, []uint64, error) {
	byHash := map[string]int{}
	courts := map[court.CourtCode]bool{}
	for i, r := range t.Records {
		byHash[r.Hash] = i
		courts[r.Issuer] = true
	}
	peers := map[court.PeerID]bool{}
	for _, b := range bundles {
		for _, c := range b.Certs {
			if courts[c.Code] && c.PeerID != "" {
				peers[court.PeerID(c.PeerID.String())] = true
			}
		}
	}
	raws := make([][]byte, len(t.Records))
	found := 0
	for _, p := range slices.Sorted(maps.Keys(peers)) {
		for from := uint64(1); found < len(raws); {
			page, err := st.LogRange(p, from, math.MaxUint64, logPage)
			if err != nil {
				return nil, nil, fmt.Errorf("record log of %s: %w", p, err)
			}
			for _, raw := range page {
				h := sha256.Sum256(raw)
				if i, ok := byHash[hex.EncodeToString(h[:])]; ok && raws[i] == nil {
					raws[i] = raw
					found++
				}
			}
			if len(page) < logPage {
				break
			}
			from += uint64(len(page))
		}
	}
	var signers []uint64
	for i, raw := range raws {
		if raw == nil {
			r := t.Records[i]
			return nil, nil, court.Errorf(court.ErrCorrupt, "transfer %s: the %s record by %s (%s…) is in no log held here", t.ID, r.Kind, r.Issuer, r.Hash[:12])
		}
		env, err := crypto.UnmarshalEnvelope(raw, cmproto.MaxGossipMessage)
		if err != nil {
			return nil, nil, court.Errorf(court.ErrCorrupt, "transfer %s: a stored record does not decode: %v", t.ID, err)
		}
		if !slices.Contains(signers, env.SignerSerial) {
			signers = append(signers, env.SignerSerial)
		}
	}
	return raws, signers, nil
}

// addAudit adds the audit segment and signs its head.
func addAudit(f *File, d Deps, id court.TransferID, self *crypto.Certificate) error {
	length, head, err := d.Store.AuditHead()
	if err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	// The first entry naming the transfer (the export's own entry at the
	// latest).
	var first uint64
	for from := uint64(1); first == 0 && from <= length; {
		page, err := d.Store.AuditEntries(from, min(from+logPage-1, length))
		if err != nil {
			return fmt.Errorf("audit log from entry %d: %w", from, err)
		}
		if len(page) == 0 {
			return court.Errorf(court.ErrCorrupt, "audit log: entries from %d are missing (run `courtmesh audit verify`)", from)
		}
		for _, e := range page {
			if e.Transfer == string(id) {
				first = e.Seq
				break
			}
		}
		from = page[len(page)-1].Seq + 1
	}
	if first == 0 {
		return court.Errorf(court.ErrCorrupt, "audit log: no entry names transfer %s, not even this export's", id)
	}
	f.Audit.Concerning = []uint64{}
	for from := first; from <= length; {
		page, err := d.Store.AuditEntries(from, min(from+logPage-1, length))
		if err != nil {
			return fmt.Errorf("audit log from entry %d: %w", from, err)
		}
		if len(page) == 0 || page[0].Seq != from {
			return court.Errorf(court.ErrCorrupt, "audit log: entry %d is missing (run `courtmesh audit verify`)", from)
		}
		for _, e := range page {
			if e.Transfer == string(id) {
				f.Audit.Concerning = append(f.Audit.Concerning, e.Seq)
			}
		}
		f.Audit.Entries = append(f.Audit.Entries, page...)
		from = page[len(page)-1].Seq + 1
	}
	f.Audit.Prev = f.Audit.Entries[0].Prev
	last := f.Audit.Entries[len(f.Audit.Entries)-1]
	if last.Seq != length || last.Hash != head {
		return court.Errorf(court.ErrCorrupt, "audit log: the head record names entry %d, the log ends at %d (run `courtmesh audit verify`)", length, last.Seq)
	}
	hh, err := hex.DecodeString(head)
	if err != nil || len(hh) != 32 {
		return court.Errorf(court.ErrCorrupt, "audit head %q is not a SHA-256 hash", head)
	}
	hb := &pb.Heartbeat{Version: cmproto.HeartbeatVersion, Court: string(self.Code), SentAt: f.ExportedAt.UnixMilli(), IntervalMs: 1,
		AuditLength: length, AuditHead: hh}
	env, err := crypto.SealMessage(d.Key, self.Serial, PayloadHead, hb)
	if err != nil {
		return fmt.Errorf("sign the audit head: %w", err)
	}
	raw, err := env.Marshal()
	if err != nil {
		return err
	}
	f.Audit.Head = NewBlob(fmt.Sprintf("audit head %d of %s", length, self.Code), raw)
	pub, err := d.Store.PublishedHead()
	switch {
	case errors.Is(err, court.ErrNotFound):
	case err != nil:
		return fmt.Errorf("the published heartbeat: %w", err)
	default:
		b := NewBlob("heartbeat published on the mesh", pub)
		f.Audit.Witnessed = &b
	}
	return nil
}
