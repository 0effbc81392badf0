package ca

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// popNode is a court node's keys, as `courtmesh init` makes them.
type popNode struct {
	nk *crypto.NodeKey
	ek *crypto.EncKey
}

func newPopNode(t *testing.T) popNode {
	t.Helper()
	nk, err := crypto.GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	return popNode{nk, ek}
}

// proven runs the offline round trip: a challenges n's identity (read
// back from its file form), n answers, and the answer goes back through
// the file form too.
func (n popNode) proven(t *testing.T, a *CA) *crypto.Identity {
	t.Helper()
	id, err := crypto.SignIdentity(n.nk, n.ek, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := a.Challenge(roundTrip(t, id))
	if err != nil {
		t.Fatal(err)
	}
	chRaw, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	var got crypto.PossessionChallenge
	if err := json.Unmarshal(chRaw, &got); err != nil {
		t.Fatal(err)
	}
	ans, err := crypto.ProvePossession(n.nk, n.ek, &got)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, ans)
}

// roundTrip passes id through identity.json.
func roundTrip(t *testing.T, id *crypto.Identity) *crypto.Identity {
	t.Helper()
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	var out crypto.Identity
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// keysOnly answers for an encryption public key it does not hold: what a
// court presenting another court's key has.
type keysOnly struct{ pub []byte }

func (k keysOnly) KEM() uint16       { return (&crypto.EncKey{}).KEM() }
func (k keysOnly) PublicKey() []byte { return k.pub }
func (k keysOnly) Open(info, ct []byte) ([]byte, error) {
	return nil, errors.New("this court does not hold the private key")
}

func tmpl(code court.CourtCode, id *crypto.Identity) crypto.Template {
	return crypto.Template{
		Code: code, Name: string(code) + " test court", Identity: id, Roles: []crypto.Role{crypto.RoleCourt},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(year),
	}
}

// TestIdentityProofOfPossession: the authority certifies only an
// identity signed by its node key whose encryption key the node proved it
// holds, and never a key already certified to another court.
func TestIdentityProofOfPossession(t *testing.T) {
	root := newRoot(t)
	other := newRoot(t) // another authority, whose proofs mean nothing here
	victim := newPopNode(t)
	if _, err := root.IssueProven(tmpl("京0105", victim.proven(t, root))); err != nil {
		t.Fatalf("issue the victim 京0105: %v", err)
	}
	attacker := newPopNode(t)

	for _, tt := range []struct {
		name     string
		code     court.CourtCode
		identity func(t *testing.T) *crypto.Identity
		kind     error  // court error kind; nil: issued
		is       error  // a finer error, if any
		says     string // the message names it
	}{
		{"proven identity", "京0106", func(t *testing.T) *crypto.Identity { return newPopNode(t).proven(t, root) }, nil, nil, ""},
		{"unsigned version 1 identity", "京0107", func(t *testing.T) *crypto.Identity {
			n := newPopNode(t)
			id, _ := crypto.NewIdentity(n.nk, n.ek)
			return roundTrip(t, id)
		}, court.ErrInvalid, crypto.ErrIdentityUnsigned, "not signed"},
		{"signed without a proof", "京0107", func(t *testing.T) *crypto.Identity {
			n := newPopNode(t)
			id, _ := crypto.SignIdentity(n.nk, n.ek, nil)
			return roundTrip(t, id)
		}, court.ErrInvalid, crypto.ErrNoPossessionProof, "answers no challenge"},
		{"proof for another authority", "京0107", func(t *testing.T) *crypto.Identity { return newPopNode(t).proven(t, other) },
			court.ErrInvalid, crypto.ErrNoPossessionProof, "authority"},
		{"encryption key swapped after signing", "京0107", func(t *testing.T) *crypto.Identity {
			id := newPopNode(t).proven(t, root)
			id.EncKey = newPopNode(t).ek.PublicKey()
			return id
		}, court.ErrInvalid, crypto.ErrBadSignature, ""},
		{"another court's encryption key, certified", "京0107", func(t *testing.T) *crypto.Identity {
			// The attacker cannot answer the challenge: it makes up a
			// proof and signs it with its own node key.
			id, _ := crypto.SignIdentity(attacker.nk, keysOnly{victim.ek.PublicKey()}, &crypto.PossessionProof{Authority: root.Cert.Serial, MAC: bytes.Repeat([]byte{7}, 32)})
			return roundTrip(t, id)
		}, court.ErrInvalid, crypto.ErrNoPossessionProof, "does not match"},
		{"the victim's proof transplanted onto another node key", "京0107", func(t *testing.T) *crypto.Identity {
			p := victim.proven(t, root).Proof
			id, _ := crypto.SignIdentity(attacker.nk, keysOnly{victim.ek.PublicKey()}, p)
			return roundTrip(t, id)
		}, court.ErrInvalid, crypto.ErrNoPossessionProof, "does not match"},
		{"a key pair already certified to another court", "京0107", func(t *testing.T) *crypto.Identity { return victim.proven(t, root) },
			court.ErrConflict, nil, "京0105"},
		{"renewal for the same court", "京0105", func(t *testing.T) *crypto.Identity { return victim.proven(t, root) }, nil, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(must(root.Issued()))
			c, err := root.IssueProven(tmpl(tt.code, tt.identity(t)))
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.Code != tt.code {
					t.Errorf("certified %s, want %s", c.Code, tt.code)
				}
				return
			}
			if !errors.Is(err, tt.kind) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("got %v, want %v (%v)", err, tt.kind, tt.is)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("the error does not say %q: %v", tt.says, err)
			}
			if n := len(must(root.Issued())); n != before {
				t.Errorf("a refused identity left %d certificates", n-before)
			}
		})
	}

	t.Run("a node does not answer another node's challenge", func(t *testing.T) {
		fresh := newPopNode(t)
		id, _ := crypto.SignIdentity(fresh.nk, fresh.ek, nil)
		ch := must(root.Challenge(id))
		if _, err := crypto.ProvePossession(attacker.nk, attacker.ek, ch); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("got %v, want court.ErrInvalid", err)
		}
	})
	t.Run("after revocation the key may move", func(t *testing.T) {
		live := must(root.Live(time.Now()))
		for _, c := range live {
			if c.Code == "京0105" {
				if err := root.Revoke(c.Serial, "moved to 京0108 (test)", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := root.IssueProven(tmpl("京0108", victim.proven(t, root))); err != nil {
			t.Errorf("after revoking 京0105's certificates: %v", err)
		}
	})
}
