package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// PartError is Verify's refusal (court.ErrCorrupt): the first part that
// failed and why.
// Part names it as docs/evidence.md does: "file", "root", "bundle 2",
// "certificate 7 (京0105 serial 123)", "record 3 (decision by 京01)",
// "audit entry 57", "audit head", "witnessed head".
type PartError struct {
	Part string
	Err  error
}

func (e *PartError) Error() string { return e.Part + ": " + e.Err.Error() }

// Unwrap makes every refusal of a file court.ErrCorrupt, whatever the
// part's own error (a bad signature, a revoked signer): the file as a
// whole is not evidence. Err keeps the cause.
func (e *PartError) Unwrap() error { return court.ErrCorrupt }

func fail(part string, format string, a ...any) error {
	return &PartError{Part: part, Err: court.Errorf(court.ErrCorrupt, format, a...)}
}

// Report is what a verified file holds.
type Report struct {
	Transfer     string
	Exporter     string
	Root         *crypto.Certificate
	RootGiven    bool // the root was given, not taken from the file
	Fingerprint  string
	Bundles      int
	Certificates int
	Records      []RecordInfo
	AuditFirst   uint64
	AuditLast    uint64
	Concerning   int
	// Witnessed is the audit length of the heartbeat the exporter
	// published before the export (0: none in the file); Compared how
	// many of its positions (head and checkpoints) fall in the segment
	// and matched.
	Witnessed uint64
	Compared  int
}

// RecordInfo describes one verified record.
type RecordInfo struct {
	Kind     string
	Issuer   court.CourtCode
	Seq      uint64
	IssuedAt time.Time
	Bundle   uint64 // the bundle in force when it was signed
}

// Read decodes an evidence file (at most MaxFileSize bytes), refusing
// unknown fields.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fail("file", "over %d bytes", MaxFileSize)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var f File
	if err := d.Decode(&f); err != nil {
		return nil, fail("file", "not an evidence file: %v", err)
	}
	if f.Format != Format {
		return nil, fail("file", "format %q; this build reads %q", f.Format, Format)
	}
	return &f, nil
}

// Verify checks every part of f offline and returns the first failure
// as a *PartError. root is the national root certificate (its envelope,
// as pinned); nil takes the file's own, which then proves only that the
// file is consistent: compare Report.Fingerprint with the published one.
// The checks, in order, are those of docs/evidence.md.
func Verify(f *File, rootRaw []byte) (*Report, error) {
	rep := &Report{Transfer: f.Transfer, Exporter: f.Exporter.Court}
	if _, err := court.ParseTransferID(f.Transfer); err != nil {
		return nil, fail("file", "transfer %q: %v", f.Transfer, err)
	}
	// 1. The root.
	fileRoot, err := f.Root.Bytes()
	if err != nil {
		return nil, fail("root", "%v", err)
	}
	if rootRaw == nil {
		rootRaw = fileRoot
	} else {
		rep.RootGiven = true
		if !bytes.Equal(rootRaw, fileRoot) {
			return nil, fail("root", "the file's root certificate is not the national root given")
		}
	}
	root, err := parseRoot(rootRaw)
	if err != nil {
		return nil, &PartError{Part: "root", Err: err}
	}
	rep.Root = root
	fp := sha256.Sum256(rootRaw)
	rep.Fingerprint = hex.EncodeToString(fp[:])

	// 2. The bundles: each signed by the root, every certificate in it
	// chained to the root; strictly increasing sequences.
	if len(f.Bundles) == 0 {
		return nil, fail("file", "no trust bundle")
	}
	var bundles []*crypto.Bundle
	inBundles := map[uint64]*crypto.Certificate{}
	for i, bl := range f.Bundles {
		part := fmt.Sprintf("bundle %d", i+1)
		raw, err := bl.Bytes()
		if err != nil {
			return nil, fail(part, "%v", err)
		}
		b, err := crypto.OpenBundle(root, raw)
		if err != nil {
			return nil, &PartError{Part: part, Err: err}
		}
		if len(bundles) > 0 && b.Sequence <= bundles[len(bundles)-1].Sequence {
			return nil, fail(part, "sequence %d does not follow %d", b.Sequence, bundles[len(bundles)-1].Sequence)
		}
		bundles = append(bundles, b)
		for _, c := range b.Certs {
			inBundles[c.Serial] = c
		}
	}
	rep.Bundles = len(bundles)

	// 3. The certificates: each chains to the root and is the very
	// certificate a bundle lists.
	certs := map[uint64]*crypto.Certificate{}
	var parsed []*crypto.Certificate
	for i, bl := range f.Certificates {
		part := fmt.Sprintf("certificate %d", i+1)
		raw, err := bl.Bytes()
		if err != nil {
			return nil, fail(part, "%v", err)
		}
		env, err := crypto.UnmarshalEnvelope(raw, crypto.MaxEnvelopeSize)
		if err != nil {
			return nil, &PartError{Part: part, Err: err}
		}
		c, err := crypto.ParseCertificate(env)
		if err != nil {
			return nil, &PartError{Part: part, Err: err}
		}
		part = fmt.Sprintf("certificate %d (%s serial %d)", i+1, c.Code, c.Serial)
		if _, dup := certs[c.Serial]; dup {
			return nil, fail(part, "listed twice")
		}
		if bc := inBundles[c.Serial]; bc == nil || !bytes.Equal(bc.Envelope.Signature, c.Envelope.Signature) || !bytes.Equal(bc.Envelope.Payload, c.Envelope.Payload) {
			return nil, fail(part, "no trust bundle in the file lists this certificate")
		}
		certs[c.Serial] = c
		parsed = append(parsed, c)
	}
	for i, c := range parsed {
		part := fmt.Sprintf("certificate %d (%s serial %d)", i+1, c.Code, c.Serial)
		issuer := certs[c.IssuerSerial]
		if c.IssuerSerial == root.Serial {
			issuer = root
		}
		if issuer == nil {
			return nil, fail(part, "its issuer (serial %d) is not in the file", c.IssuerSerial)
		}
		if err := c.VerifyIssuedBy(issuer); err != nil {
			return nil, &PartError{Part: part, Err: err}
		}
		if issuer != root && issuer.IssuerSerial != root.Serial {
			return nil, fail(part, "chain longer than root, issuer, court")
		}
	}
	rep.Certificates = len(parsed)

	// 4. The records: signed by a certificate in the file, admitted by
	// the bundle in force when signed, not revoked by a later one.
	if len(f.Records) == 0 {
		return nil, fail("file", "no record")
	}
	seen := map[[32]byte]bool{}
	for i, bl := range f.Records {
		part := fmt.Sprintf("record %d", i+1)
		info, h, err := verifyRecord(bl, f.Transfer, certs, bundles)
		if info.Kind != "" {
			part = fmt.Sprintf("record %d (%s by %s, #%d of its log)", i+1, info.Kind, info.Issuer, info.Seq)
		}
		if err != nil {
			return nil, &PartError{Part: part, Err: err}
		}
		if seen[h] {
			return nil, fail(part, "listed twice")
		}
		seen[h] = true
		rep.Records = append(rep.Records, info)
	}
	if rep.Records[0].Kind != "offer" {
		return nil, fail("record 1", "the first record of a transfer is its offer, not a %s", rep.Records[0].Kind)
	}

	// 5. The audit segment, its signed head and the witnessed head.
	exporter := certs[f.Exporter.Serial]
	if exporter == nil || string(exporter.Code) != f.Exporter.Court {
		return nil, fail("file", "the exporter %s (serial %d) has no certificate in the file", f.Exporter.Court, f.Exporter.Serial)
	}
	if err := verifyAudit(f, exporter, bundles, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

func parseRoot(raw []byte) (*crypto.Certificate, error) {
	env, err := crypto.UnmarshalEnvelope(raw, crypto.MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	root, err := crypto.ParseCertificate(env)
	if err != nil {
		return nil, err
	}
	if !root.SelfSigned() || !root.HasRole(crypto.RoleRoot) {
		return nil, court.Errorf(court.ErrCorrupt, "not a self-signed national root certificate")
	}
	if err := env.VerifyWith(root.SigningKey, crypto.PayloadCertificate); err != nil {
		return nil, err
	}
	return root, nil
}

// inForce returns the bundle in force at t: the one of highest sequence
// issued at or before t, if t is before its expiry and grace.
func inForce(bundles []*crypto.Bundle, t time.Time) *crypto.Bundle {
	for _, b := range slices.Backward(bundles) {
		if !b.IssuedAt.After(t) {
			if t.After(b.ExpiresAt.Add(crypto.BundleGrace)) {
				return nil
			}
			return b
		}
	}
	return nil
}

func listed(b *crypto.Bundle, c *crypto.Certificate) bool {
	for _, bc := range b.Certs {
		if bc.Serial == c.Serial && bytes.Equal(bc.Envelope.Signature, c.Envelope.Signature) {
			return true
		}
	}
	return false
}

func revocation(b *crypto.Bundle, serial uint64) (crypto.Revocation, bool) {
	for _, r := range b.Revocations {
		if r.Serial == serial {
			return r, true
		}
	}
	return crypto.Revocation{}, false
}

func verifyRecord(bl Blob, transfer string, certs map[uint64]*crypto.Certificate, bundles []*crypto.Bundle) (RecordInfo, [32]byte, error) {
	var info RecordInfo
	raw, err := bl.Bytes()
	if err != nil {
		return info, [32]byte{}, court.Errorf(court.ErrCorrupt, "%v", err)
	}
	h := sha256.Sum256(raw)
	env, err := crypto.UnmarshalEnvelope(raw, cmproto.MaxGossipMessage)
	if err != nil {
		return info, h, err
	}
	var p pb.Record
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return info, h, court.Errorf(court.ErrCorrupt, "payload does not decode: %v", err)
	}
	info = RecordInfo{Kind: kindName(&p), Issuer: court.CourtCode(p.GetIssuerCourt()), Seq: p.GetSequence(), IssuedAt: time.UnixMilli(p.GetIssuedAt()).UTC()}
	c := certs[env.SignerSerial]
	if c == nil {
		return info, h, court.Errorf(court.ErrCorrupt, "signed by certificate serial %d, which is not in the file", env.SignerSerial)
	}
	if err := env.VerifyWith(c.SigningKey, cmproto.PayloadRecord); err != nil {
		return info, h, err
	}
	switch {
	case p.GetVersion() != cmproto.RecordVersion:
		return info, h, court.Errorf(court.ErrCorrupt, "record version %d", p.GetVersion())
	case info.Kind == "":
		return info, h, court.Errorf(court.ErrCorrupt, "no body")
	case info.Issuer != c.Code:
		return info, h, court.Errorf(court.ErrCorrupt, "claims issuer %s but %s signed it", info.Issuer, c.Code)
	case p.GetTransferId() != transfer:
		return info, h, court.Errorf(court.ErrCorrupt, "names transfer %s, not %s", p.GetTransferId(), transfer)
	case info.Seq == 0:
		return info, h, court.Errorf(court.ErrCorrupt, "log position 0")
	case !c.HasRole(crypto.RoleCourt):
		return info, h, court.Errorf(court.ErrCorrupt, "signer %s has no court role", c.Code)
	}
	if err := c.ValidAt(info.IssuedAt); err != nil {
		return info, h, fmt.Errorf("when signed: %w", err)
	}
	b := inForce(bundles, info.IssuedAt)
	if b == nil {
		return info, h, court.Errorf(court.ErrCorrupt, "no trust bundle in the file was in force when it was signed (%s)", info.IssuedAt.Format(time.RFC3339))
	}
	info.Bundle = b.Sequence
	if !listed(b, c) {
		return info, h, court.Errorf(court.ErrCorrupt, "trust bundle %d, in force when it was signed, does not list its signer (serial %d)", b.Sequence, c.Serial)
	}
	if r, ok := revocation(b, c.Serial); ok && !r.Trusts(info.Seq) {
		return info, h, fmt.Errorf("trust bundle %d, in force when it was signed, revokes its signer: %w", b.Sequence, crypto.ErrRevoked)
	}
	newest := bundles[len(bundles)-1]
	if r, ok := revocation(newest, c.Serial); ok && !r.Trusts(info.Seq) {
		return info, h, fmt.Errorf("trust bundle %d revokes its signer (serial %d, on %s) outside the trusted part of its log: %w",
			newest.Sequence, c.Serial, r.RevokedAt.UTC().Format(time.RFC3339), crypto.ErrRevoked)
	}
	return info, h, nil
}

func kindName(p *pb.Record) string {
	switch p.GetBody().(type) {
	case *pb.Record_Offer:
		return string(cmproto.KindOffer)
	case *pb.Record_Decision:
		return string(cmproto.KindDecision)
	case *pb.Record_Acceptance:
		return string(cmproto.KindAcceptance)
	case *pb.Record_Rejection:
		return string(cmproto.KindRejection)
	case *pb.Record_Withdrawal:
		return string(cmproto.KindWithdrawal)
	case *pb.Record_Handover:
		return string(cmproto.KindHandover)
	case *pb.Record_Receipt:
		return string(cmproto.KindReceipt)
	case *pb.Record_Progress:
		return string(cmproto.KindProgress)
	case *pb.Record_Closure:
		return string(cmproto.KindClosure)
	case *pb.Record_GrantRevocation:
		return string(cmproto.KindRevokeGrant)
	case *pb.Record_AssetUpdate:
		return string(cmproto.KindAssetUpdate)
	case *pb.Record_Directive:
		return string(cmproto.KindDirective)
	case *pb.Record_DirectiveReport:
		return string(cmproto.KindDirectiveReport)
	case nil:
		return ""
	}
	return "record" // a kind newer than this build: checked as signed, not by kind
}

// verifyAudit checks the audit segment link by link, the entries naming
// the transfer, the signed head at its end and the witnessed head.
func verifyAudit(f *File, exporter *crypto.Certificate, bundles []*crypto.Bundle, rep *Report) error {
	a := f.Audit
	if len(a.Entries) == 0 {
		return fail("audit", "no entry")
	}
	if seq, err := storage.VerifyAudit(a.Entries, a.Prev); err != nil {
		return &PartError{Part: fmt.Sprintf("audit entry %d", seq), Err: fmt.Errorf("%w: %v", court.ErrCorrupt, err)}
	}
	first, last := a.Entries[0], a.Entries[len(a.Entries)-1]
	naming := []uint64{}
	for _, e := range a.Entries {
		if e.Transfer == f.Transfer {
			naming = append(naming, e.Seq)
		}
	}
	if !slices.Equal(naming, a.Concerning) {
		return fail("audit", "the entries naming the transfer are %v, the file lists %v", naming, a.Concerning)
	}
	if len(naming) == 0 || naming[0] != first.Seq {
		return fail("audit", "the segment does not start at the first entry naming the transfer")
	}
	rep.AuditFirst, rep.AuditLast, rep.Concerning = first.Seq, last.Seq, len(naming)

	// The head, signed by the exporter when it wrote the file.
	hb, err := openHead(a.Head, exporter, PayloadHead)
	if err != nil {
		return &PartError{Part: "audit head", Err: err}
	}
	if hb.GetAuditLength() != last.Seq || hex.EncodeToString(hb.GetAuditHead()) != last.Hash {
		return fail("audit head", "signs entry %d with hash %x, the segment ends at entry %d with hash %s", hb.GetAuditLength(), hb.GetAuditHead(), last.Seq, last.Hash)
	}
	signed := time.UnixMilli(hb.GetSentAt())
	if err := exporter.ValidAt(signed); err != nil {
		return &PartError{Part: "audit head", Err: err}
	}
	if b := inForce(bundles, signed); b == nil || !listed(b, exporter) {
		return fail("audit head", "no trust bundle in the file admitted its signer %s when it signed (%s)", exporter.Code, signed.UTC().Format(time.RFC3339))
	}

	// The newest heartbeat the exporter published: the mesh witnessed it.
	if a.Witnessed == nil {
		return nil
	}
	w, err := openHead(*a.Witnessed, exporter, cmproto.PayloadHeartbeat)
	if err != nil {
		return &PartError{Part: "witnessed head", Err: err}
	}
	if w.GetSentAt() > hb.GetSentAt() {
		return fail("witnessed head", "published after the export")
	}
	l := w.GetAuditLength()
	rep.Witnessed = l
	if l > last.Seq {
		return fail("witnessed head", "the mesh witnessed %d entries, the segment ends at entry %d (entries removed)", l, last.Seq)
	}
	shown := map[uint64][]byte{l: w.GetAuditHead()}
	for _, c := range w.GetAuditCheckpoints() {
		shown[c.GetLength()] = c.GetHash()
	}
	for _, seq := range slices.Sorted(maps.Keys(shown)) {
		want := hex.EncodeToString(shown[seq])
		switch {
		case seq == 0:
		case seq == first.Seq-1:
			if a.Prev != want {
				return fail("witnessed head", "the mesh witnessed entry %d with hash %s, the segment links to %s (history rewritten)", seq, want, a.Prev)
			}
			rep.Compared++
		case seq >= first.Seq && seq <= last.Seq:
			if e := a.Entries[seq-first.Seq]; e.Hash != want {
				return fail("witnessed head", "the mesh witnessed entry %d with hash %s, the file holds %s (history rewritten)", seq, want, e.Hash)
			}
			rep.Compared++
		}
	}
	return nil
}

// openHead checks a signed Heartbeat message of the given payload type
// from the exporter.
func openHead(bl Blob, exporter *crypto.Certificate, payloadType string) (*pb.Heartbeat, error) {
	raw, err := bl.Bytes()
	if err != nil {
		return nil, court.Errorf(court.ErrCorrupt, "%v", err)
	}
	env, err := crypto.UnmarshalEnvelope(raw, cmproto.MaxGossipMessage)
	if err != nil {
		return nil, err
	}
	if env.SignerSerial != exporter.Serial {
		return nil, court.Errorf(court.ErrCorrupt, "signed by serial %d, not the exporter's %d", env.SignerSerial, exporter.Serial)
	}
	if err := env.VerifyWith(exporter.SigningKey, payloadType); err != nil {
		return nil, err
	}
	var hb pb.Heartbeat
	if err := proto.Unmarshal(env.Payload, &hb); err != nil {
		return nil, court.Errorf(court.ErrCorrupt, "payload does not decode: %v", err)
	}
	if hb.GetCourt() != string(exporter.Code) {
		return nil, court.Errorf(court.ErrCorrupt, "names court %s, signed by %s", hb.GetCourt(), exporter.Code)
	}
	if l := hb.GetAuditLength(); l > 0 && len(hb.GetAuditHead()) != 32 {
		return nil, court.Errorf(court.ErrCorrupt, "audit head of %d bytes", len(hb.GetAuditHead()))
	}
	return &hb, nil
}
