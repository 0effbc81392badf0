package nodetest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage/scalegen"
)

// National is a national-size trust fabric in memory: the root, one
// issuer per province, and a certificate for each of the 3,500 courts of
// scalegen.Courts (最高法 and the high courts certified by the root, the
// intermediate and basic courts by their province's issuer): 3,534
// certificates in its bundle.
type National struct {
	RootKey    *crypto.NodeKey
	Root       *crypto.Certificate
	RootRaw    []byte
	IssuerKeys map[court.CourtCode]*crypto.NodeKey // by province
	Issuers    map[court.CourtCode]*crypto.Certificate
	Courts     []*crypto.Certificate // in scalegen.Courts order
	Keys       []*crypto.NodeKey     // the courts' node keys
	Bundle     *crypto.Bundle        // sequence 1
	NotAfter   time.Time
}

// NewNational builds a National issued at now. self, if given, are the
// identities of the first len(self) courts (data directories made with
// datadir.Init, so that a real node holds a certified key); their Keys
// entries are then nil.
func NewNational(t testing.TB, now time.Time, self ...*crypto.Identity) *National {
	t.Helper()
	n := &National{IssuerKeys: map[court.CourtCode]*crypto.NodeKey{}, Issuers: map[court.CourtCode]*crypto.Certificate{},
		NotAfter: now.Add(2 * 365 * 24 * time.Hour)}
	var err error
	if n.RootKey, err = crypto.GenerateNodeKey(); err != nil {
		t.Fatal(err)
	}
	rid, err := crypto.NewIdentity(n.RootKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	nb := now.Add(-time.Hour)
	if n.Root, err = crypto.Issue(n.RootKey, nil, crypto.Template{
		Code: court.Supreme, Name: "national root", Identity: rid, Roles: []crypto.Role{crypto.RoleRoot, crypto.RoleIssuer},
		Scope: court.Supreme, NotBefore: nb, NotAfter: now.Add(10 * 365 * 24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if n.RootRaw, err = n.Root.Envelope.Marshal(); err != nil {
		t.Fatal(err)
	}
	codes := scalegen.Courts()
	for _, c := range codes {
		if c.Level() != court.LevelHigh {
			continue
		}
		k, err := crypto.GenerateNodeKey()
		if err != nil {
			t.Fatal(err)
		}
		id, err := crypto.NewIdentity(k, nil)
		if err != nil {
			t.Fatal(err)
		}
		ic, err := crypto.Issue(n.RootKey, n.Root, crypto.Template{
			Code: c, Name: string(c) + " issuer", Identity: id, Roles: []crypto.Role{crypto.RoleIssuer}, Scope: c,
			NotBefore: nb, NotAfter: n.NotAfter.Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		n.IssuerKeys[c], n.Issuers[c] = k, ic
	}
	n.Courts = make([]*crypto.Certificate, len(codes))
	n.Keys = make([]*crypto.NodeKey, len(codes))
	// Keys and signatures in parallel: a few seconds on two cores.
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				if err := n.certify(i, codes[i], nb, self); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range codes {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	var all []*crypto.Certificate
	for _, c := range codes {
		if c.Level() == court.LevelHigh {
			all = append(all, n.Issuers[c])
		}
	}
	all = append(all, n.Courts...)
	if n.Bundle, err = crypto.BuildBundle(n.RootKey, n.Root, 1, now, now.Add(30*24*time.Hour), all, nil); err != nil {
		t.Fatal(err)
	}
	return n
}

// certify makes court i's key (unless given) and certificate.
func (n *National) certify(i int, code court.CourtCode, nb time.Time, self []*crypto.Identity) error {
	var id *crypto.Identity
	if i < len(self) {
		id = self[i]
	} else {
		k, err := crypto.GenerateNodeKey()
		if err != nil {
			return err
		}
		ek, err := crypto.GenerateEncKey()
		if err != nil {
			return err
		}
		if id, err = crypto.NewIdentity(k, ek); err != nil {
			return err
		}
		n.Keys[i] = k
	}
	signer, issuer := n.RootKey, n.Root
	if code.Level() != court.LevelSupreme && code.Level() != court.LevelHigh {
		prov := court.CourtCode([]rune(string(code))[:1])
		signer, issuer = n.IssuerKeys[prov], n.Issuers[prov]
		if issuer == nil {
			return fmt.Errorf("no issuer for %s", code)
		}
	}
	roles := []crypto.Role{crypto.RoleCourt}
	if code == court.Supreme {
		roles = append(roles, crypto.RoleOperator)
	}
	c, err := crypto.Issue(signer, issuer, crypto.Template{
		Code: code, Name: string(code) + " court", Identity: id, Roles: roles, NotBefore: nb, NotAfter: n.NotAfter,
	})
	if err != nil {
		return fmt.Errorf("certify %s: %w", code, err)
	}
	n.Courts[i] = c
	return nil
}
