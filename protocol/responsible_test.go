package protocol

import (
	"bytes"
	"encoding/json"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// TestResponsibleSealing seals a person to two courts: each opens it,
// a third court finds nothing for it, a tampered seal or another label
// does not open, the sealed bytes hold no name, and the shape check
// refuses what is malformed.
func TestResponsibleSealing(t *testing.T) {
	keys := map[court.CourtCode]*crypto.EncKey{}
	var certs []*crypto.Certificate
	for i, c := range []court.CourtCode{"京0105", "京01", "京0108"} {
		k, err := crypto.GenerateEncKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[c] = k
		if i < 2 {
			certs = append(certs, &crypto.Certificate{Code: c, Serial: uint64(i + 1), EncKEM: k.KEM(), EncKey: k.PublicKey()})
		}
	}
	id := court.TransferID("0123456789abcdef0123456789abcdef")
	r := Responsible{Name: "赵某某", Account: "zhao", Role: string(court.RoleSuperiorJudge)}
	sealed, wrapped, err := SealResponsible(id, "decision", r, append(certs, certs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 2 || bytes.Contains(sealed, []byte("赵某某")) || bytes.Contains(sealed, []byte("zhao")) {
		t.Fatalf("sealed %d bytes for %d courts, or the name in clear", len(sealed), len(wrapped))
	}
	if err := checkResponsible(sealed, wrapped); err != nil {
		t.Fatal(err)
	}
	r.Version = ResponsibleVersion
	for _, c := range []court.CourtCode{"京0105", "京01"} {
		got, err := OpenResponsible(keys[c], c, id, "decision", sealed, wrapped)
		if err != nil || got != r {
			t.Errorf("%s opens %+v, %v", c, got, err)
		}
	}
	if _, err := OpenResponsible(keys["京0108"], "京0108", id, "decision", sealed, wrapped); court.KindOf(err) != court.ErrNotFound {
		t.Errorf("a court it is not sealed to: %v", err)
	}
	if _, err := OpenResponsible(keys["京01"], "京01", id, "acceptance", sealed, wrapped); court.KindOf(err) != court.ErrCorrupt {
		t.Errorf("under another record's label: %v", err)
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := OpenResponsible(keys["京01"], "京01", id, "decision", bad, wrapped); court.KindOf(err) != court.ErrCorrupt {
		t.Errorf("tampered: %v", err)
	}
	if _, err := OpenResponsible(keys["京01"], "京01", id, "decision", nil, nil); court.KindOf(err) != court.ErrNotFound {
		t.Errorf("a record naming no one: %v", err)
	}
	if _, _, err := SealResponsible(id, "decision", Responsible{}, certs); court.KindOf(err) != court.ErrInvalid {
		t.Errorf("no name: %v", err)
	}
	for name, c := range map[string]struct {
		sealed []byte
		keys   []*pb.WrappedKey
	}{
		"sealed without keys": {sealed, nil},
		"keys without sealed": {nil, wrapped},
		"too large":           {make([]byte, MaxResponsibleSealed+1), wrapped},
		"a bad court":         {sealed, []*pb.WrappedKey{{Court: "nowhere", Wrapped: []byte{1}}}},
	} {
		if err := checkResponsible(c.sealed, c.keys); court.KindOf(err) != court.ErrInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The sealed JSON's field names are a signed format.
	b, _ := json.Marshal(r)
	if string(b) != `{"version":1,"name":"赵某某","account":"zhao","role":"上级法院审判员"}` {
		t.Errorf("Responsible encodes as %s", b)
	}
}
