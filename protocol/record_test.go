package protocol_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/ca"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// fixNow is the fixed clock of the pure tests: records are issued and
// checked against it, so that nothing depends on the day the tests run.
var fixNow = time.Date(2026, time.March, 16, 10, 0, 0, 0, time.UTC)

// party is a key and the certificate that certifies it.
type party struct {
	key  *crypto.NodeKey
	cert *crypto.Certificate
}

// fixture is a trust bundle signed by a fresh national root, certifying
// the courts of the transfer tests, a revoked court and an issuer-only key.
type fixture struct {
	trust  *crypto.Trust
	courts map[court.CourtCode]party
	// revoked is 京0106, certified and then revoked.
	revoked party
	// issuer is an offline issuing key for 京: certified, but no node.
	issuer party
	// operator is a national operator's node: certified, but no court.
	operator party
}

// revokedCode is the court whose certificate the fixture revokes.
const revokedCode court.CourtCode = "京0106"

func newFixture(tb testing.TB, dir string) *fixture {
	tb.Helper()
	root, err := ca.InitRoot(filepath.Join(dir, "ca"), "最高人民法院 (test root)", fixNow.AddDate(-1, 0, 0), 10*365*24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	node := func(code, parent court.CourtCode, roles ...crypto.Role) party {
		tb.Helper()
		key, err := crypto.GenerateNodeKey()
		if err != nil {
			tb.Fatal(err)
		}
		enc, err := crypto.GenerateEncKey()
		if err != nil {
			tb.Fatal(err)
		}
		id, err := crypto.NewIdentity(key, enc)
		if err != nil {
			tb.Fatal(err)
		}
		cert, err := root.Issue(crypto.Template{
			Code: code, Name: string(code) + " 人民法院", Parent: parent, Identity: id, Roles: roles,
			NotBefore: fixNow.AddDate(0, -1, 0), NotAfter: fixNow.AddDate(1, 0, 0),
		})
		if err != nil {
			tb.Fatalf("certify %s: %v", code, err)
		}
		return party{key: key, cert: cert}
	}
	f := &fixture{courts: map[court.CourtCode]party{}}
	for _, c := range []struct{ code, parent court.CourtCode }{
		{"京", ""}, {"京01", ""}, {"京02", ""}, {"京0105", ""}, {"京0108", ""}, {"京0102", "京02"},
	} {
		f.courts[c.code] = node(c.code, c.parent, crypto.RoleCourt)
	}
	f.operator = node(court.Supreme, "", crypto.RoleOperator)
	f.revoked = node(revokedCode, "", crypto.RoleCourt)
	if err := root.Revoke(f.revoked.cert.Serial, "key lost (test)", fixNow.Add(-time.Hour)); err != nil {
		tb.Fatal(err)
	}
	ikey, err := crypto.GenerateNodeKey()
	if err != nil {
		tb.Fatal(err)
	}
	icert, err := root.Issue(crypto.Template{
		Code: "京", Name: "北京市高级人民法院 (issuer)", Identity: &crypto.Identity{SigningKey: ikey.Public()},
		Roles: []crypto.Role{crypto.RoleIssuer}, Scope: "京",
		NotBefore: fixNow.AddDate(0, -1, 0), NotAfter: fixNow.AddDate(1, 0, 0),
	})
	if err != nil {
		tb.Fatal(err)
	}
	f.issuer = party{key: ikey, cert: icert}
	b, err := root.Bundle(fixNow.Add(-time.Hour), 30*24*time.Hour, nil)
	if err != nil {
		tb.Fatal(err)
	}
	f.trust = crypto.NewTrust(root.Root, b)
	return f
}

// as returns the party of a court.
func (f *fixture) as(tb testing.TB, c court.CourtCode) party {
	tb.Helper()
	p, ok := f.courts[c]
	if !ok {
		tb.Fatalf("no court %s in the fixture", c)
	}
	return p
}

// seal signs body as p with SealRecord.
func seal(tb testing.TB, p party, seq uint64, at time.Time, id court.TransferID, body *pb.Record) []byte {
	tb.Helper()
	raw, err := protocol.SealRecord(p.key, p.cert, seq, at, id, body)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// sealAsIs signs body exactly as given (no header fields filled in), with
// the given payload type.
func sealAsIs(tb testing.TB, p party, payloadType string, body *pb.Record) []byte {
	tb.Helper()
	env, err := crypto.SealMessage(p.key, p.cert.Serial, payloadType, body)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// The transfer of the tests: 京0105 offers a case to 京01, which designates
// 京0108.
const (
	testID      court.TransferID = "0123456789abcdef0123456789abcdef"
	testCase                     = "（2025）京0105执123号"
	testNewCase                  = "（2026）京0108执77号"
)

var testRoot = make32(0xAA)

func make32(b byte) []byte {
	out := make([]byte, 32)
	for i := range out {
		out[i] = b
	}
	return out
}

func offerBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_Offer{Offer: &pb.TransferOffer{
		CaseNumber: testCase, OriginCourt: "京0105", SuperiorCourt: "京01",
		Grounds:              []pb.Ground{pb.Ground_GROUND_LONG_UNEXECUTED, pb.Ground_GROUND_INTERFERENCE},
		AmountOutstandingFen: 1_500_000_00, AmountRecoveredFen: 20_000_00,
		Assets:                []*pb.AssetCount{{AssetClass: "real_estate", Count: 1}, {AssetClass: "deposit", Count: 3}},
		EarliestMeasureExpiry: "2026-09-01", FiledOn: "2025-06-01",
	}}}
}

func decisionBody(mode pb.Mode, receiver court.CourtCode, acceptBy string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Decision{Decision: &pb.TransferDecision{
		Mode: mode, ReceiverCourt: string(receiver), DecisionNumber: "（2026）京01执监7号", AcceptBy: acceptBy,
	}}}
}

func acceptanceBody(newCase string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Acceptance{Acceptance: &pb.Acceptance{NewCaseNumber: newCase}}}
}

func rejectionBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_Rejection{Rejection: &pb.Rejection{Reason: "本院执行力量不足"}}}
}

func withdrawalBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_Withdrawal{Withdrawal: &pb.Withdrawal{Reason: "被执行人已主动履行"}}}
}

func handoverBody(keysFor ...court.CourtCode) *pb.Record {
	m := &pb.HandoverManifest{
		MerkleRoot: testRoot, ChunkCount: 12, SealedBytes: 1 << 20, DocumentCount: 4,
		SnapshotHash: make32(0xBB), SealedDetail: []byte("sealed"), ActiveMeasures: 2,
	}
	for _, c := range keysFor {
		m.Keys = append(m.Keys, &pb.WrappedKey{Court: string(c), CertificateSerial: 7, Wrapped: []byte("wrapped-" + string(c))})
	}
	return &pb.Record{Body: &pb.Record_Handover{Handover: m}}
}

func receiptBody(root []byte) *pb.Record {
	return &pb.Record{Body: &pb.Record_Receipt{Receipt: &pb.Receipt{MerkleRoot: root, ChunksVerified: 12}}}
}

func progressBody(amount int64) *pb.Record {
	return &pb.Record{Body: &pb.Record_Progress{Progress: &pb.Progress{AmountRecoveredFen: amount, Status: "查封房产已进入拍卖程序"}}}
}

func closureBody(outcome string) *pb.Record {
	return &pb.Record{Body: &pb.Record_Closure{Closure: &pb.Closure{Outcome: outcome, AmountRecoveredFen: 1_000_000_00}}}
}

func grantRevocationBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_GrantRevocation{GrantRevocation: &pb.GrantRevocation{Court: "京0108", Reason: "已完成移交"}}}
}

func assetUpdateBody() *pb.Record {
	return &pb.Record{Body: &pb.Record_AssetUpdate{AssetUpdate: &pb.AssetUpdate{Number: 1, Kind: "renewal", Sealed: []byte("sealed change"), EarliestExpiry: "2027-03-01"}}}
}

// validBodies is one valid record of every kind, with the court that
// issues it in the test transfer.
func validBodies() []struct {
	kind   protocol.Kind
	issuer court.CourtCode
	body   func() *pb.Record
} {
	return []struct {
		kind   protocol.Kind
		issuer court.CourtCode
		body   func() *pb.Record
	}{
		{protocol.KindOffer, "京0105", offerBody},
		{protocol.KindDecision, "京01", func() *pb.Record { return decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "") }},
		{protocol.KindAcceptance, "京0108", func() *pb.Record { return acceptanceBody(testNewCase) }},
		{protocol.KindRejection, "京0108", rejectionBody},
		{protocol.KindWithdrawal, "京0105", withdrawalBody},
		{protocol.KindHandover, "京0105", func() *pb.Record { return handoverBody("京0108", "京01") }},
		{protocol.KindReceipt, "京0108", func() *pb.Record { return receiptBody(testRoot) }},
		{protocol.KindProgress, "京0108", func() *pb.Record { return progressBody(5_000_00) }},
		{protocol.KindClosure, "京0108", func() *pb.Record { return closureBody("concluded") }},
		{protocol.KindRevokeGrant, "京0105", grantRevocationBody},
		{protocol.KindAssetUpdate, "京0108", assetUpdateBody},
	}
}

// The positive control of every case below: each kind, well formed and
// signed by its court, decodes with every header field as sealed.
func TestDecodeRecordValid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	for i, v := range validBodies() {
		t.Run(string(v.kind), func(t *testing.T) {
			at := fixNow.Add(-time.Minute)
			raw := seal(t, f.as(t, v.issuer), uint64(i+1), at, testID, v.body())
			r, err := protocol.DecodeRecord(raw, f.trust, fixNow)
			if err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			if r.Kind != v.kind || r.Issuer != v.issuer || r.Seq != uint64(i+1) || r.Transfer != testID ||
				!r.IssuedAt.Equal(at.Truncate(time.Millisecond)) || r.SignerPeer() != f.as(t, v.issuer).key.PeerID() || string(r.Raw) != string(raw) {
				t.Errorf("decoded %+v", r)
			}
		})
	}
}

// TestDecodeRecordRefuses: It is long on purpose: one table of every way
// a record is refused.
func TestDecodeRecordRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	at := fixNow.Add(-time.Minute)
	// A case either mutates a valid body of its kind (mod) and seals it
	// with SealRecord as by, or builds the raw bytes itself (raw).
	type tc struct {
		name string
		kind protocol.Kind // the valid body mod starts from
		by   court.CourtCode
		mod  func(*pb.Record)
		raw  func(t *testing.T) []byte
		want error
		// authentic: the envelope is good, only the body is wrong, so
		// DecodeRecord returns the record with the error (kept as evidence).
		authentic bool
	}
	bodies := map[protocol.Kind]func() *pb.Record{}
	issuers := map[protocol.Kind]court.CourtCode{}
	for _, v := range validBodies() {
		bodies[v.kind], issuers[v.kind] = v.body, v.issuer
	}
	offer := func(mod func(o *pb.TransferOffer)) func(*pb.Record) {
		return func(r *pb.Record) { mod(r.GetOffer()) }
	}
	cases := []tc{
		// The envelope and the signer.
		{name: "bad signature", raw: func(t *testing.T) []byte {
			raw := seal(t, f.as(t, "京0105"), 1, at, testID, offerBody())
			env, err := crypto.UnmarshalEnvelope(raw, protocol.MaxGossipMessage)
			if err != nil {
				t.Fatal(err)
			}
			env.Signature[0] ^= 1
			out, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, want: crypto.ErrBadSignature},
		{name: "payload altered after signing", raw: func(t *testing.T) []byte {
			raw := seal(t, f.as(t, "京0105"), 1, at, testID, offerBody())
			env, err := crypto.UnmarshalEnvelope(raw, protocol.MaxGossipMessage)
			if err != nil {
				t.Fatal(err)
			}
			var p pb.Record
			if err := proto.Unmarshal(env.Payload, &p); err != nil {
				t.Fatal(err)
			}
			p.GetOffer().AmountOutstandingFen = 1
			if env.Payload, err = proto.Marshal(&p); err != nil {
				t.Fatal(err)
			}
			out, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, want: crypto.ErrBadSignature},
		{name: "wrong payload type", raw: func(t *testing.T) []byte {
			b := offerBody()
			b.Version, b.IssuerCourt, b.Sequence, b.IssuedAt, b.TransferId = protocol.RecordVersion, "京0105", 1, at.UnixMilli(), string(testID)
			return sealAsIs(t, f.as(t, "京0105"), protocol.PayloadLogHeads, b)
		}, want: crypto.ErrMalformed},
		{name: "not an envelope", raw: func(*testing.T) []byte { return []byte("offer") }, want: crypto.ErrMalformed},
		{name: "issuer_court is not the signer's court", raw: func(t *testing.T) []byte {
			b := offerBody()
			b.Version, b.IssuerCourt, b.Sequence, b.IssuedAt, b.TransferId = protocol.RecordVersion, "京0108", 1, at.UnixMilli(), string(testID)
			return sealAsIs(t, f.as(t, "京0105"), protocol.PayloadRecord, b)
		}, want: crypto.ErrNotAuthorised},
		{name: "unknown version", raw: func(t *testing.T) []byte {
			b := offerBody()
			b.Version, b.IssuerCourt, b.Sequence, b.IssuedAt, b.TransferId = protocol.RecordVersion+1, "京0105", 1, at.UnixMilli(), string(testID)
			return sealAsIs(t, f.as(t, "京0105"), protocol.PayloadRecord, b)
		}, want: crypto.ErrMalformed},
		{name: "sequence 0", raw: func(t *testing.T) []byte { return seal(t, f.as(t, "京0105"), 0, at, testID, offerBody()) }, want: crypto.ErrMalformed},
		{name: "transfer id too short", raw: func(t *testing.T) []byte { return seal(t, f.as(t, "京0105"), 1, at, "0123", offerBody()) }, want: court.ErrInvalid},
		{name: "transfer id not hex", raw: func(t *testing.T) []byte {
			return seal(t, f.as(t, "京0105"), 1, at, "0123456789abcdef0123456789abcdeg", offerBody())
		}, want: court.ErrInvalid},
		{name: "no body", raw: func(t *testing.T) []byte { return seal(t, f.as(t, "京0105"), 1, at, testID, &pb.Record{}) }, want: crypto.ErrMalformed},
		{name: "record from a revoked court", raw: func(t *testing.T) []byte {
			b := offerBody()
			b.GetOffer().OriginCourt, b.GetOffer().CaseNumber = string(revokedCode), "（2025）京0106执1号"
			return seal(t, f.revoked, 1, at, testID, b)
		}, want: crypto.ErrRevoked},
		{name: "record signed by an issuer-only key", raw: func(t *testing.T) []byte {
			return seal(t, f.issuer, 1, at, testID, decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", ""))
		}, want: crypto.ErrNotAuthorised},
		{name: "record signed by an operator node that is no court", raw: func(t *testing.T) []byte {
			return seal(t, f.operator, 1, at, testID, decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", ""))
		}, want: crypto.ErrNotAuthorised},
		{name: "record signed by an uncertified key", raw: func(t *testing.T) []byte {
			key, err := crypto.GenerateNodeKey()
			if err != nil {
				t.Fatal(err)
			}
			return seal(t, party{key: key, cert: f.as(t, "京0105").cert}, 1, at, testID, offerBody())
		}, want: crypto.ErrBadSignature},

		// Offers.
		{name: "offer whose case number belongs to another court", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.CaseNumber = "（2025）京0108执123号" }), want: court.ErrInvalid, authentic: true},
		{name: "offer for another origin than its signer", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.OriginCourt, o.CaseNumber = "京0108", "（2025）京0108执123号" }), want: court.ErrInvalid, authentic: true},
		{name: "offer of a case number that does not parse", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.CaseNumber = "京0105执123" }), want: court.ErrInvalid, authentic: true},
		{name: "offer of a non-enforcement case", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.CaseNumber = "（2025）京0105民初123号" }), want: court.ErrInvalid, authentic: true},
		{name: "offer of an objection case (执异)", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.CaseNumber = "（2025）京0105执异12号" }), want: court.ErrInvalid, authentic: true},
		{name: "offer to a court that is not superior", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.SuperiorCourt = "京02" }), want: court.ErrInvalid, authentic: true},
		{name: "offer to a peer court", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.SuperiorCourt = "京0108" }), want: court.ErrInvalid, authentic: true},
		{name: "offer to itself", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.SuperiorCourt = "京0105" }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a malformed superior", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.SuperiorCourt = "nowhere" }), want: court.ErrInvalid, authentic: true},
		{name: "offer with no grounds", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.Grounds = nil }), want: court.ErrInvalid, authentic: true},
		{name: "offer with an unspecified ground", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.Grounds = []pb.Ground{pb.Ground_GROUND_UNSPECIFIED} }), want: court.ErrInvalid, authentic: true},
		{name: "offer with an unknown ground", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.Grounds = []pb.Ground{99} }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a negative amount outstanding", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.AmountOutstandingFen = -1 }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a huge amount outstanding", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.AmountOutstandingFen = protocol.MaxAmountFen + 1 }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a negative amount recovered", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.AmountRecoveredFen = -100 }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a huge amount recovered", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.AmountRecoveredFen = 1 << 62 }), want: court.ErrInvalid, authentic: true},
		{name: "offer with nothing outstanding", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.AmountOutstandingFen = 0 }), want: court.ErrInvalid, authentic: true},
		{name: "offer with an unknown asset class", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.Assets = []*pb.AssetCount{{AssetClass: "gold", Count: 1}} }), want: court.ErrInvalid, authentic: true},
		{name: "offer of a case filed less than 6 months ago", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.FiledOn = "2025-10-01" }), want: court.ErrInvalid, authentic: true},
		{name: "offer of a case filed in the future", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.FiledOn = "2027-01-01" }), want: court.ErrInvalid, authentic: true},
		{name: "offer without filing date", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.FiledOn = "" }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a malformed filing date", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.FiledOn = "2025-6-1" }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a filing date that does not exist", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.FiledOn = "2025-02-30" }), want: court.ErrInvalid, authentic: true},
		{name: "offer with a malformed measure expiry", kind: protocol.KindOffer,
			mod: offer(func(o *pb.TransferOffer) { o.EarliestMeasureExpiry = "2026/09/01" }), want: court.ErrInvalid, authentic: true},

		// Decisions.
		{name: "decision without mode", kind: protocol.KindDecision,
			mod: func(r *pb.Record) { r.GetDecision().Mode = pb.Mode_MODE_UNSPECIFIED }, want: court.ErrInvalid, authentic: true},
		{name: "decision with an unknown mode", kind: protocol.KindDecision,
			mod: func(r *pb.Record) { r.GetDecision().Mode = 7 }, want: court.ErrInvalid, authentic: true},
		{name: "decision with a malformed receiver", kind: protocol.KindDecision,
			mod: func(r *pb.Record) { r.GetDecision().ReceiverCourt = "" }, want: court.ErrInvalid, authentic: true},
		{name: "decision without decision number", kind: protocol.KindDecision,
			mod: func(r *pb.Record) { r.GetDecision().DecisionNumber = "" }, want: court.ErrInvalid, authentic: true},
		{name: "decision with an overlong decision number", kind: protocol.KindDecision,
			mod: func(r *pb.Record) { r.GetDecision().DecisionNumber = string(make([]rune, 65)) }, want: court.ErrInvalid, authentic: true},
		{name: "decision with a malformed deadline", kind: protocol.KindDecision,
			mod: func(r *pb.Record) { r.GetDecision().AcceptBy = "next week" }, want: court.ErrInvalid, authentic: true},

		// Acceptances.
		{name: "acceptance under another court's case number", kind: protocol.KindAcceptance,
			mod: func(r *pb.Record) { r.GetAcceptance().NewCaseNumber = "（2026）京0105执77号" }, want: court.ErrInvalid, authentic: true},
		{name: "acceptance under a civil case number", kind: protocol.KindAcceptance,
			mod: func(r *pb.Record) { r.GetAcceptance().NewCaseNumber = "（2026）京0108民初77号" }, want: court.ErrInvalid, authentic: true},
		{name: "acceptance without case number", kind: protocol.KindAcceptance,
			mod: func(r *pb.Record) { r.GetAcceptance().NewCaseNumber = "" }, want: court.ErrInvalid, authentic: true},

		// Rejections and withdrawals.
		{name: "rejection without reason", kind: protocol.KindRejection,
			mod: func(r *pb.Record) { r.GetRejection().Reason = "" }, want: court.ErrInvalid, authentic: true},
		{name: "withdrawal without reason", kind: protocol.KindWithdrawal,
			mod: func(r *pb.Record) { r.GetWithdrawal().Reason = "" }, want: court.ErrInvalid, authentic: true},
		{name: "withdrawal with an overlong reason", kind: protocol.KindWithdrawal,
			mod: func(r *pb.Record) { r.GetWithdrawal().Reason = string(make([]rune, 501)) }, want: court.ErrInvalid, authentic: true},

		// Handovers.
		{name: "handover without keys", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().Keys = nil }, want: court.ErrInvalid, authentic: true},
		{name: "handover with a key for a malformed court", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().Keys[0].Court = "x" }, want: court.ErrInvalid, authentic: true},
		{name: "handover with an empty wrapped key", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().Keys[0].Wrapped = nil }, want: court.ErrInvalid, authentic: true},
		{name: "handover with a short Merkle root", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().MerkleRoot = make32(1)[:31] }, want: court.ErrInvalid, authentic: true},
		{name: "handover without Merkle root", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().MerkleRoot = nil }, want: court.ErrInvalid, authentic: true},
		{name: "handover of no chunks", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().ChunkCount = 0 }, want: court.ErrInvalid, authentic: true},
		{name: "handover with a bad snapshot hash", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().SnapshotHash = []byte{1} }, want: court.ErrInvalid, authentic: true},
		{name: "handover with a bad sealed case hash", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().SealedCaseHash = []byte{1} }, want: court.ErrInvalid, authentic: true},
		{name: "handover overriding measures without a reason", kind: protocol.KindHandover,
			mod: func(r *pb.Record) { r.GetHandover().OverriddenMeasures = []string{"m1"} }, want: court.ErrInvalid, authentic: true},

		// Receipts, progress, closures.
		{name: "receipt with a bad Merkle root", kind: protocol.KindReceipt,
			mod: func(r *pb.Record) { r.GetReceipt().MerkleRoot = []byte("root") }, want: court.ErrInvalid, authentic: true},
		{name: "progress with a negative amount", kind: protocol.KindProgress,
			mod: func(r *pb.Record) { r.GetProgress().AmountRecoveredFen = -1 }, want: court.ErrInvalid, authentic: true},
		{name: "progress with a huge amount", kind: protocol.KindProgress,
			mod: func(r *pb.Record) { r.GetProgress().AmountRecoveredFen = protocol.MaxAmountFen + 1 }, want: court.ErrInvalid, authentic: true},
		{name: "progress with an overlong status", kind: protocol.KindProgress,
			mod: func(r *pb.Record) { r.GetProgress().Status = string(make([]rune, 201)) }, want: court.ErrInvalid, authentic: true},
		{name: "closure with an unknown outcome", kind: protocol.KindClosure,
			mod: func(r *pb.Record) { r.GetClosure().Outcome = "abandoned" }, want: court.ErrInvalid, authentic: true},
		{name: "closure without outcome", kind: protocol.KindClosure,
			mod: func(r *pb.Record) { r.GetClosure().Outcome = "" }, want: court.ErrInvalid, authentic: true},
		{name: "closure with a negative amount", kind: protocol.KindClosure,
			mod: func(r *pb.Record) { r.GetClosure().AmountRecoveredFen = -5 }, want: court.ErrInvalid, authentic: true},

		// Grant revocations and asset updates.
		{name: "grant revocation of a malformed court", kind: protocol.KindRevokeGrant,
			mod: func(r *pb.Record) { r.GetGrantRevocation().Court = "somewhere" }, want: court.ErrInvalid, authentic: true},
		{name: "grant revocation without reason", kind: protocol.KindRevokeGrant,
			mod: func(r *pb.Record) { r.GetGrantRevocation().Reason = "" }, want: court.ErrInvalid, authentic: true},
		{name: "asset update number 0", kind: protocol.KindAssetUpdate,
			mod: func(r *pb.Record) { r.GetAssetUpdate().Number = 0 }, want: court.ErrInvalid, authentic: true},
		{name: "asset update of an unknown kind", kind: protocol.KindAssetUpdate,
			mod: func(r *pb.Record) { r.GetAssetUpdate().Kind = "rumour" }, want: court.ErrInvalid, authentic: true},
		{name: "asset update with nothing sealed", kind: protocol.KindAssetUpdate,
			mod: func(r *pb.Record) { r.GetAssetUpdate().Sealed = nil }, want: court.ErrInvalid, authentic: true},
		{name: "asset update too large", kind: protocol.KindAssetUpdate,
			mod: func(r *pb.Record) { r.GetAssetUpdate().Sealed = make([]byte, protocol.MaxGossipMessage/2+1) }, want: court.ErrInvalid, authentic: true},
		{name: "asset update with a malformed expiry", kind: protocol.KindAssetUpdate,
			mod: func(r *pb.Record) { r.GetAssetUpdate().EarliestExpiry = "soon" }, want: court.ErrInvalid, authentic: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw []byte
			if c.raw != nil {
				raw = c.raw(t)
			} else {
				// Positive control: the unmodified body decodes.
				by := issuers[c.kind]
				if c.by != "" {
					by = c.by
				}
				if _, err := protocol.DecodeRecord(seal(t, f.as(t, by), 1, at, testID, bodies[c.kind]()), f.trust, fixNow); err != nil {
					t.Fatalf("control: the unmodified %s does not decode: %v", c.kind, err)
				}
				b := bodies[c.kind]()
				c.mod(b)
				raw = seal(t, f.as(t, by), 1, at, testID, b)
			}
			r, err := protocol.DecodeRecord(raw, f.trust, fixNow)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.authentic != (r != nil) {
				t.Fatalf("record returned = %v, want %v (authentic envelope, invalid body: %v)", r != nil, c.authentic, c.authentic)
			}
			if r != nil && string(r.Raw) != string(raw) {
				t.Error("the returned record is not the one received")
			}
		})
	}
}

// The 6-month rule counts from the offer's date: a case filed exactly six
// months before it may be offered, one filed a day later may not.
func TestDecodeRecordSixMonthBoundary(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	at := time.Date(2026, time.March, 16, 2, 0, 0, 0, time.UTC) // 10:00 in Beijing
	for _, c := range []struct {
		filed string
		ok    bool
	}{{"2025-09-16", true}, {"2025-09-17", false}, {"2025-09-15", true}} {
		b := offerBody()
		b.GetOffer().FiledOn = c.filed
		_, err := protocol.DecodeRecord(seal(t, f.as(t, "京0105"), 1, at, testID, b), f.trust, fixNow)
		if (err == nil) != c.ok {
			t.Errorf("filed %s: err = %v, want ok %v", c.filed, err, c.ok)
		}
	}
}

// A record dated ahead of the checker's clock (beyond the clock skew) is
// refused, and not kept: an offer dated a year ahead must not pass the
// 6-month rule today.
func TestDecodeRecordDatedAhead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	recent := offerBody()
	recent.GetOffer().FiledOn = "2026-02-01" // six weeks before fixNow
	for _, c := range []struct {
		name string
		at   time.Time
		body *pb.Record
		want error
		// goodLater: checked at its own date, the record is good.
		goodLater bool
	}{
		{"within the clock skew", fixNow.Add(protocol.MaxClockSkew), offerBody(), nil, true},
		{"just beyond the clock skew", fixNow.Add(protocol.MaxClockSkew + time.Millisecond), offerBody(), crypto.ErrNotYetValid, true},
		{"a year ahead", fixNow.AddDate(1, 0, 0), offerBody(), crypto.ErrNotYetValid, false},
		{"a recent case, dated ahead past the 6-month rule", fixNow.AddDate(0, 7, 0), recent, crypto.ErrNotYetValid, false},
		{"the same recent case, dated now", fixNow, recent, court.ErrInvalid, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := seal(t, f.as(t, "京0105"), 1, c.at, testID, proto.Clone(c.body).(*pb.Record))
			r, err := protocol.DecodeRecord(raw, f.trust, fixNow)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if errors.Is(c.want, crypto.ErrNotYetValid) && r != nil {
				t.Error("a record dated ahead is returned (and would be kept in the log)")
			}
			if c.goodLater {
				// Once its time has come, the same bytes are good.
				if _, err := protocol.DecodeRecord(raw, f.trust, c.at); err != nil {
					t.Errorf("at its date: %v", err)
				}
			}
		})
	}
}

// A certificate that is not yet valid or no longer valid at the time of
// checking does not sign records.
func TestDecodeRecordCertificateLifetime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	raw := seal(t, f.as(t, "京0105"), 1, fixNow.Add(-time.Minute), testID, offerBody())
	if _, err := protocol.DecodeRecord(raw, f.trust, fixNow); err != nil {
		t.Fatalf("control: %v", err)
	}
	if _, err := protocol.DecodeRecord(raw, f.trust, fixNow.AddDate(0, -2, 0)); !errors.Is(err, crypto.ErrNotYetValid) {
		t.Errorf("before the certificate: err = %v, want ErrNotYetValid", err)
	}
	if _, err := protocol.DecodeRecord(raw, f.trust, fixNow.AddDate(2, 0, 0)); !errors.Is(err, crypto.ErrExpired) {
		t.Errorf("long after: err = %v, want ErrExpired", err)
	}
}

func TestParseTransferID(t *testing.T) {
	t.Parallel()
	id := court.NewTransferID()
	if got, err := court.ParseTransferID(string(id)); err != nil || got != id {
		t.Fatalf("court.ParseTransferID(court.NewTransferID()) = %q, %v", got, err)
	}
	if court.NewTransferID() == id {
		t.Error("two fresh transfer IDs are equal")
	}
	for _, s := range []string{"", "0123", string(id) + "00", "0123456789ABCDEF0123456789abcdeX", "０１２３456789abcdef0123456789ab"} {
		if _, err := court.ParseTransferID(s); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("court.ParseTransferID(%q) = %v, want court.ErrInvalid", s, err)
		}
	}
}
