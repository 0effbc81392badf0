package users

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/storage"
)

// env is a users service over a real store, with a clock the test moves.
type env struct {
	s   *Service
	db  *storage.DB
	now atomic.Int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	k, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(t.TempDir(), "d"), storage.Options{Decrypter: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := audit.New(audit.Deps{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db}
	e.now.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	e.s = New(Deps{Store: db, Audit: a, Now: func() time.Time { return time.Unix(0, e.now.Load()) }, Actor: "test"})
	return e
}

// TestTokens issues a token and follows it through its life: it works,
// a wrong secret or an unknown id does not, the store holds no secret,
// and revocation, disabling and expiry stop it at once, also when it
// was verified (and remembered) before.
func TestTokens(t *testing.T) {
	e := newEnv(t)
	ctx := api.WithPerson(context.Background(), api.Person{Name: "it.admin", Roles: []court.StaffRole{court.RoleIT}})
	if _, err := e.s.AddUser(ctx, api.UserRequest{Name: "wang", DisplayName: "王某某", Roles: []string{"judge", "承办法官"}, Cases: []string{"(2024)京0105执1号"}}); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]api.UserRequest{
		"no role":      {Name: "a", DisplayName: "某"},
		"a bad role":   {Name: "a", DisplayName: "某", Roles: []string{"janitor"}},
		"no name":      {Name: "a", Roles: []string{"it"}},
		"a bad login":  {Name: "A B", DisplayName: "某", Roles: []string{"it"}},
		"a bad case":   {Name: "a", DisplayName: "某", Roles: []string{"judge"}, Cases: []string{"nonsense"}},
		"a name taken": {Name: "wang", DisplayName: "某", Roles: []string{"it"}},
	} {
		if _, err := e.s.AddUser(ctx, req); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	if _, err := e.s.IssueToken(ctx, "wang", api.TokenRequest{ExpiresInDays: api.MaxTokenDays + 1}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("a token for more than a year: %v", err)
	}
	it, err := e.s.IssueToken(ctx, "wang", api.TokenRequest{ExpiresInDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.s.Authenticate(context.Background(), it.Token)
	if err != nil || p.Name != "wang" || p.DisplayName != "王某某" || len(p.Roles) != 1 || p.Cases[0] != "（2024）京0105执1号" || p.TokenID != it.ID {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	// Again: remembered, same answer.
	if p2, err := e.s.Authenticate(context.Background(), it.Token); err != nil || p2.Name != p.Name {
		t.Fatalf("again: %+v, %v", p2, err)
	}
	_, secret, _ := strings.Cut(strings.TrimPrefix(it.Token, api.PersonalTokenPrefix), "_")
	for _, bad := range []string{it.Token + "x", api.PersonalTokenPrefix + it.ID + "_wrong", api.PersonalTokenPrefix + "fedcba9876543210_" + secret, "cmu_", "cmu_zz_zz"} {
		if _, err := e.s.Authenticate(context.Background(), bad); !errors.Is(err, court.ErrPermission) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	u, err := e.db.User("wang")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Tokens) != 1 || u.Tokens[0].Time != argonTime || u.Tokens[0].Memory != argonMemory || len(u.Tokens[0].Hash) != argonKeyLen || bytes.Contains(u.Tokens[0].Hash, []byte(secret)) {
		t.Errorf("stored token %+v", u.Tokens)
	}
	if got, err := e.s.PersonByToken(context.Background(), it.ID); err != nil || got.Name != "wang" {
		t.Errorf("by token id: %+v, %v", got, err)
	}

	// Expiry: the remembered token stops too.
	e.now.Add(int64(31 * 24 * time.Hour))
	if _, err := e.s.Authenticate(context.Background(), it.Token); !errors.Is(err, court.ErrPermission) {
		t.Errorf("an expired token: %v", err)
	}
	e.now.Add(-int64(31 * 24 * time.Hour))
	if _, err := e.s.Authenticate(context.Background(), it.Token); err != nil {
		t.Fatal(err)
	}
	// Revoked.
	if _, err := e.s.RevokeToken(ctx, "wang", it.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Authenticate(context.Background(), it.Token); !errors.Is(err, court.ErrPermission) {
		t.Errorf("a revoked token: %v", err)
	}
	if _, err := e.s.PersonByToken(context.Background(), it.ID); !errors.Is(err, court.ErrPermission) {
		t.Errorf("a revoked token's session: %v", err)
	}
	// Disabled: a fresh token stops.
	it2, err := e.s.IssueToken(ctx, "wang", api.TokenRequest{})
	if err != nil || !it2.Expires.Equal(time.Unix(0, e.now.Load()).UTC().AddDate(0, 0, DefaultTokenDays)) {
		t.Fatalf("second token: %+v, %v", it2, err)
	}
	if _, err := e.s.Authenticate(context.Background(), it2.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.DisableUser(ctx, "wang"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Authenticate(context.Background(), it2.Token); !errors.Is(err, court.ErrPermission) {
		t.Errorf("a disabled account's token: %v", err)
	}
	if _, err := e.s.IssueToken(ctx, "wang", api.TokenRequest{}); !errors.Is(err, court.ErrConflict) {
		t.Errorf("a token for a disabled account: %v", err)
	}

	// Every change is audited with who made it; no entry holds a secret.
	entries, err := e.db.AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	for _, en := range entries {
		if en.Person != "user:it.admin" {
			t.Errorf("entry %s names %q", en.Event, en.Person)
		}
		if strings.Contains(en.Detail, secret) {
			t.Errorf("entry %s holds a secret", en.Event)
		}
		events[en.Event]++
	}
	if events["user.added"] != 1 || events["user.token_issued"] != 2 || events["user.token_revoked"] != 1 || events["user.disabled"] != 1 {
		t.Errorf("audited: %v", events)
	}
}

// TestAuditRefusesChanges: while the audit log cannot be written, no
// account changes.
func TestAuditRefusesChanges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.db.SetAuditFault(func(storage.AuditEntry) error { return errors.New("disk full (test)") })
	if _, err := e.s.AddUser(ctx, api.UserRequest{Name: "wang", DisplayName: "王某某", Roles: []string{"judge"}}); !errors.Is(err, court.ErrUnavailable) {
		t.Fatalf("add with the audit log failing: %v", err)
	}
	if _, err := e.db.User("wang"); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("the account exists: %v", err)
	}
	e.db.SetAuditFault(nil)
	if _, err := e.s.AddUser(ctx, api.UserRequest{Name: "wang", DisplayName: "王某某", Roles: []string{"judge"}}); err != nil {
		t.Fatal(err)
	}
	e.db.SetAuditFault(func(storage.AuditEntry) error { return errors.New("disk full (test)") })
	if _, err := e.s.IssueToken(ctx, "wang", api.TokenRequest{}); !errors.Is(err, court.ErrUnavailable) {
		t.Errorf("a token with the audit log failing: %v", err)
	}
	e.db.SetAuditFault(nil)
	if u, _ := e.db.User("wang"); len(u.Tokens) != 0 {
		t.Errorf("a token was stored: %+v", u.Tokens)
	}
}

// BenchmarkAuthenticate measures a token's check: "first" pays the
// argon2id (a token not yet remembered), "remembered" the store read
// that every later request still makes.
func BenchmarkAuthenticate(b *testing.B) {
	k, err := crypto.GenerateEncKey()
	if err != nil {
		b.Fatal(err)
	}
	db, err := storage.Open(filepath.Join(b.TempDir(), "d"), storage.Options{Decrypter: k})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a, err := audit.New(audit.Deps{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	s := New(Deps{Store: db, Audit: a})
	ctx := context.Background()
	if _, err := s.AddUser(ctx, api.UserRequest{Name: "wang", DisplayName: "王某某", Roles: []string{"judge"}}); err != nil {
		b.Fatal(err)
	}
	it, err := s.IssueToken(ctx, "wang", api.TokenRequest{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			s.mu.Lock()
			clear(s.cached)
			s.mu.Unlock()
			if _, err := s.Authenticate(ctx, it.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Authenticate(ctx, it.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
}
