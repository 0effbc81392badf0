package protocol

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// The person the law ties a record to. A decision (the deciding judge),
// an acceptance (the receiving judge) and a handover (the judge who
// handed over, or the 执行局长 who approved an override of the 30-day
// guard) carry that person's name sealed: a data key of its own seals
// Responsible (JSON) under ResponsibleLabel, and is wrapped for the
// transfer's courts under ResponsiblePurpose. Gossip sees only bytes.

// ResponsibleVersion is the version of Responsible.
const ResponsibleVersion = 1

// ResponsiblePurpose is the purpose the responsible person's data keys
// are wrapped for.
const ResponsiblePurpose = "responsible"

// MaxResponsibleSealed bounds the sealed person (a name and a role).
const MaxResponsibleSealed = 1 << 10

// Responsible is the person a record names, as sealed. The JSON field
// names are a signed format.
type Responsible struct {
	Version int    `json:"version"`
	Name    string `json:"name"`    // 姓名
	Account string `json:"account"` // the account's login name on the issuing node
	Role    string `json:"role"`    // the role the person acted in (承办法官, 执行局长, 上级法院审判员)
}

// ResponsibleLabel is the SealField label of the person of record kind
// ("decision", "acceptance", "handover") of transfer id.
func ResponsibleLabel(id court.TransferID, kind string) string {
	return "responsible/" + string(id) + "/" + kind
}

// SealResponsible seals r for the certified courts readers. A reader that
// cannot be sealed to is an error, never skipped.
func SealResponsible(id court.TransferID, kind string, r Responsible, readers []*crypto.Certificate) ([]byte, []*pb.WrappedKey, error) {
	r.Version = ResponsibleVersion
	if r.Name == "" || utf8.RuneCountInString(r.Name) > 64 {
		return nil, nil, court.Errorf(court.ErrInvalid, "transfer %s: the responsible person's name is empty or too long", id)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	k, err := crypto.NewDataKey()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := k.SealField(ResponsibleLabel(id, kind), b)
	if err != nil {
		return nil, nil, err
	}
	var keys []*pb.WrappedKey
	seen := map[court.CourtCode]bool{}
	for _, c := range readers {
		if seen[c.Code] {
			continue
		}
		seen[c.Code] = true
		w, err := crypto.WrapDataKey(c.EncKEM, c.EncKey, ResponsiblePurpose, string(id), k)
		if err != nil {
			return nil, nil, fmt.Errorf("transfer %s: wrap the responsible person's key for %s: %w", id, c.Code, err)
		}
		keys = append(keys, &pb.WrappedKey{Court: string(c.Code), CertificateSerial: c.Serial, Wrapped: w})
	}
	return sealed, keys, nil
}

// OpenResponsible opens the person of record kind of transfer id with
// court self's key: court.ErrNotFound when the record names none, or
// none for self; court.ErrCorrupt when it does not open.
func OpenResponsible(dec crypto.Decrypter, self court.CourtCode, id court.TransferID, kind string, sealed []byte, keys []*pb.WrappedKey) (Responsible, error) {
	var r Responsible
	if len(sealed) == 0 {
		return r, court.Errorf(court.ErrNotFound, "the %s of transfer %s names no person (made with the node's bootstrap token, or by an older build)", kind, id)
	}
	if len(sealed) > MaxResponsibleSealed {
		return r, court.Errorf(court.ErrCorrupt, "the %s of transfer %s: sealed person of %d bytes", kind, id, len(sealed))
	}
	for _, k := range keys {
		if court.CourtCode(k.Court) != self {
			continue
		}
		dk, err := crypto.UnwrapDataKey(dec, ResponsiblePurpose, string(id), k.Wrapped)
		if err != nil {
			continue // wrapped for another node of this court
		}
		b, err := dk.OpenField(ResponsibleLabel(id, kind), sealed)
		if err != nil {
			return r, court.Errorf(court.ErrCorrupt, "the person of the %s of transfer %s does not open: %v", kind, id, err)
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Version != ResponsibleVersion {
			return r, court.Errorf(court.ErrCorrupt, "the person of the %s of transfer %s does not decode (version %d): %v", kind, id, r.Version, err)
		}
		return r, nil
	}
	return r, court.Errorf(court.ErrNotFound, "the person of the %s of transfer %s is not sealed to %s", kind, id, self)
}

// ResponsibleOf returns the sealed person and keys a record carries, and
// the kind that labels them ("" for a record that carries none).
func ResponsibleOf(rec *pb.Record) (kind string, sealed []byte, keys []*pb.WrappedKey) {
	switch b := rec.GetBody().(type) {
	case *pb.Record_Decision:
		return "decision", b.Decision.GetSealedResponsible(), b.Decision.GetResponsibleKeys()
	case *pb.Record_Acceptance:
		return "acceptance", b.Acceptance.GetSealedResponsible(), b.Acceptance.GetResponsibleKeys()
	case *pb.Record_Handover:
		return "handover", b.Handover.GetSealedResponsible(), b.Handover.GetResponsibleKeys()
	case *pb.Record_Supplement:
		m := b.Supplement.GetManifest()
		return "handover", m.GetSealedResponsible(), m.GetResponsibleKeys()
	}
	return "", nil, nil
}

// maxResponsibleKeys bounds the courts a person is sealed to (origin,
// receiver, decider, and a few nodes more).
const maxResponsibleKeys = 8

// checkResponsible checks the shape of a record's sealed person: none,
// or at most MaxResponsibleSealed bytes wrapped for 1 to
// maxResponsibleKeys courts.
func checkResponsible(sealed []byte, keys []*pb.WrappedKey) error {
	switch {
	case len(sealed) == 0 && len(keys) == 0:
		return nil
	case len(sealed) == 0 || len(keys) == 0:
		return invalid("a sealed responsible person needs both the sealed bytes and the wrapped keys")
	case len(sealed) > MaxResponsibleSealed:
		return invalid("sealed responsible person of %d bytes; at most %d", len(sealed), MaxResponsibleSealed)
	case len(keys) > maxResponsibleKeys:
		return invalid("the responsible person is wrapped for %d courts; at most %d", len(keys), maxResponsibleKeys)
	}
	for _, k := range keys {
		if _, err := court.ParseCourtCode(k.GetCourt()); err != nil || len(k.GetWrapped()) == 0 || len(k.GetWrapped()) > 4096 {
			return invalid("a wrapped key of the responsible person is malformed (court %q)", k.GetCourt())
		}
	}
	return nil
}
