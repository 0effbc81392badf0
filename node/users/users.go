package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/storage"
)

// The argon2id parameters of new token hashes (OWASP's minimum, as for
// the parties' query codes: 19 MiB, 2 passes, 1 thread).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

const (
	// DefaultTokenDays is a new token's life when none is asked for.
	DefaultTokenDays = 90
	// maxVerifying bounds concurrent argon2id checks (19 MiB each).
	maxVerifying = 4
	// cacheFor is how long a verified token skips argon2id.
	cacheFor = 10 * time.Minute
	// maxCached bounds the verified-token memory (it is emptied when full).
	maxCached = 4096
)

// Store is what the service needs of the node's store; *storage.DB
// implements it.
type Store interface {
	AddUser(u storage.UserRecord) error
	UpdateUser(name string, fn func(*storage.UserRecord) error) (storage.UserRecord, error)
	User(name string) (storage.UserRecord, error)
	UserByToken(id string) (storage.UserRecord, error)
	UsersPage(ctx context.Context, cursor string, limit int) ([]storage.UserRecord, string, error)
}

var _ Store = (*storage.DB)(nil)

// Deps is what the service is built from.
type Deps struct {
	// Store keeps the accounts (required).
	Store Store
	// Audit writes the entries of the accounts' changes and of the
	// policy (required).
	Audit audit.Policy
	// Transfer, if set, reads a transfer at this node, to name its case
	// numbers for a judge's own cases; nil: no transfer has a case known
	// here (a judge's own-case routes on transfers are refused).
	Transfer func(court.TransferID) (api.Transfer, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the service's events (never a token); nil discards.
	Log *slog.Logger
	// Actor names the caller when ctx names none (the offline command
	// line: "offline cli (uid N)").
	Actor string
}

// Service is the court's accounts. It is safe for concurrent use.
type Service struct {
	d     Deps
	slots chan struct{}

	mu     sync.Mutex
	cached map[[32]byte]cached
}

type cached struct {
	name, id string
	at       time.Time
}

var _ api.Gate = (*Service)(nil)

// New returns the service over d.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Actor == "" {
		d.Actor = "unknown"
	}
	return &Service{d: d, slots: make(chan struct{}, maxVerifying), cached: map[[32]byte]cached{}}
}

func (s *Service) who(ctx context.Context) string {
	if a := api.ActorFrom(ctx); a != "" {
		return a
	}
	return s.d.Actor
}

func tokenHash(id, secret string, salt []byte, t, mem uint32, threads uint8) []byte {
	return argon2.IDKey([]byte("courtmesh api token v1\x00"+id+"\x00"+secret), salt, t, mem, threads, argonKeyLen)
}

// dummy is what an unknown token id is checked against, so that it costs
// the same argon2id as a known one.
var dummy = storage.UserToken{Salt: make([]byte, 16), Hash: make([]byte, argonKeyLen), Time: argonTime, Memory: argonMemory, Threads: argonThreads}

// parseToken splits "cmu_<id>_<secret>".
func parseToken(tok string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, api.PersonalTokenPrefix)
	if !ok || len(rest) > 128 {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || secret == "" {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// tokenState is "active", "expired" or "revoked" at now.
func tokenState(t storage.UserToken, now time.Time) string {
	switch {
	case !t.Revoked.IsZero():
		return "revoked"
	case !now.Before(t.Expires):
		return "expired"
	}
	return "active"
}

// person is the api.Person of u acting with token id, or
// court.ErrPermission if the account or the token no longer holds.
func (s *Service) person(u storage.UserRecord, id string) (api.Person, error) {
	if u.Disabled {
		return api.Person{}, court.Errorf(court.ErrPermission, "account %q is disabled", u.Name)
	}
	i := slices.IndexFunc(u.Tokens, func(t storage.UserToken) bool { return t.ID == id })
	if i < 0 {
		return api.Person{}, court.Errorf(court.ErrPermission, "no such token")
	}
	if st := tokenState(u.Tokens[i], s.d.Now()); st != "active" {
		return api.Person{}, court.Errorf(court.ErrPermission, "token %s of %q is %s", id, u.Name, st)
	}
	return api.Person{Name: u.Name, DisplayName: u.DisplayName, Roles: slices.Clone(u.Roles), Cases: slices.Clone(u.Cases), TokenID: id}, nil
}

// Authenticate implements api.Gate.
func (s *Service) Authenticate(ctx context.Context, tok string) (api.Person, error) {
	refused := court.Errorf(court.ErrPermission, "unknown, wrong, expired or revoked token")
	key := sha256.Sum256([]byte(tok))
	now := s.d.Now()
	s.mu.Lock()
	c, hit := s.cached[key]
	if hit && now.Sub(c.at) > cacheFor {
		delete(s.cached, key)
		hit = false
	}
	s.mu.Unlock()
	if hit {
		u, err := s.d.Store.UserByToken(c.id)
		if err != nil || u.Name != c.name {
			return api.Person{}, refused
		}
		p, err := s.person(u, c.id)
		if err != nil {
			return api.Person{}, refused
		}
		return p, nil
	}
	id, secret, ok := parseToken(tok)
	t := dummy
	var u storage.UserRecord
	found := false
	if ok {
		var err error
		u, err = s.d.Store.UserByToken(id)
		switch {
		case err == nil:
			if i := slices.IndexFunc(u.Tokens, func(t storage.UserToken) bool { return t.ID == id }); i >= 0 {
				t, found = u.Tokens[i], true
			}
		case court.KindOf(err) != court.ErrNotFound:
			return api.Person{}, err
		}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return api.Person{}, court.Errorf(court.ErrUnavailable, "checking the token: %v", ctx.Err())
	}
	got := tokenHash(id, secret, t.Salt, t.Time, t.Memory, t.Threads)
	<-s.slots
	if !found || subtle.ConstantTimeCompare(got, t.Hash) != 1 {
		return api.Person{}, refused
	}
	p, err := s.person(u, id)
	if err != nil {
		return api.Person{}, refused
	}
	s.mu.Lock()
	if len(s.cached) >= maxCached {
		clear(s.cached)
	}
	s.cached[key] = cached{name: u.Name, id: id, at: now}
	s.mu.Unlock()
	return p, nil
}

// PersonByToken implements api.Gate.
func (s *Service) PersonByToken(_ context.Context, id string) (api.Person, error) {
	u, err := s.d.Store.UserByToken(id)
	if err != nil {
		return api.Person{}, court.Errorf(court.ErrPermission, "unknown token")
	}
	return s.person(u, id)
}

// TransferCases implements api.Gate.
func (s *Service) TransferCases(id court.TransferID) ([]string, error) {
	if s.d.Transfer == nil {
		return nil, nil
	}
	t, err := s.d.Transfer(id)
	if err != nil {
		return nil, err
	}
	out := []string{t.CaseNumber}
	if t.NewCaseNumber != "" {
		out = append(out, t.NewCaseNumber)
	}
	return out, nil
}

// entry is the audit entry of a.
func entry(a api.Access) storage.AuditEntry {
	ev := "api.request"
	switch a.Outcome {
	case "refused":
		ev = "api.refused"
	case "signed in":
		ev = "person.signin"
	}
	detail := a.Route
	if a.Reason != "" {
		detail += ": " + a.Reason
	}
	return storage.AuditEntry{Event: ev, Outcome: a.Outcome, Transfer: a.Transfer, Case: a.Case, Person: a.Person.Actor(), Detail: detail}
}

// AuditBefore implements api.Gate.
func (s *Service) AuditBefore(a api.Access) error { return s.d.Audit.Before(entry(a)) }

// AuditAfter implements api.Gate.
func (s *Service) AuditAfter(a api.Access) error { return s.d.Audit.After(entry(a)) }

// info describes u without secrets.
func (s *Service) info(u storage.UserRecord) api.UserInfo {
	out := api.UserInfo{Name: u.Name, DisplayName: u.DisplayName, Roles: u.Roles, Cases: u.Cases, Created: u.Created,
		CreatedBy: u.CreatedBy, Disabled: u.Disabled, DisabledAt: u.DisabledAt, Tokens: []api.TokenInfo{}}
	now := s.d.Now()
	for _, t := range u.Tokens {
		out.Tokens = append(out.Tokens, api.TokenInfo{ID: t.ID, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, State: tokenState(t, now)})
	}
	return out
}

func parseRoles(in []string) ([]court.StaffRole, error) {
	var out []court.StaffRole
	for _, s := range in {
		r, err := court.ParseStaffRole(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, court.Errorf(court.ErrInvalid, "an account needs at least one role (--role)")
	}
	return out, nil
}

func parseCases(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		n, err := court.ParseCaseNumber(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n.String()) {
			out = append(out, n.String())
		}
	}
	return out, nil
}

// validDisplayName: the person's name, 1 to 32 characters, printable.
func validDisplayName(s string) bool {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > 32 || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// AddUser implements api.Gate: the account is created, audited
// (user.added) before it is.
func (s *Service) AddUser(ctx context.Context, req api.UserRequest) (api.UserInfo, error) {
	roles, err := parseRoles(req.Roles)
	if err != nil {
		return api.UserInfo{}, err
	}
	cases, err := parseCases(req.Cases)
	if err != nil {
		return api.UserInfo{}, err
	}
	if !validDisplayName(req.DisplayName) {
		return api.UserInfo{}, court.Errorf(court.ErrInvalid, "the person's name (display_name, --display-name) is required: 1 to 32 characters, as decisions will name them")
	}
	u := storage.UserRecord{Name: req.Name, DisplayName: req.DisplayName, Roles: roles, Cases: cases, Created: s.d.Now().UTC(), CreatedBy: s.who(ctx)}
	if _, err := s.d.Store.User(req.Name); err == nil {
		return api.UserInfo{}, court.Errorf(court.ErrConflict, "an account %q already exists on this node", req.Name)
	} else if court.KindOf(err) != court.ErrNotFound {
		return api.UserInfo{}, err
	}
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "user.added", Outcome: "ok", Person: s.who(ctx),
		Detail: fmt.Sprintf("account %s, roles %s, %d cases", u.Name, joinRoles(roles), len(cases))}); err != nil {
		return api.UserInfo{}, court.Errorf(court.ErrUnavailable, "%v", err)
	}
	if err := s.d.Store.AddUser(u); err != nil {
		return api.UserInfo{}, err
	}
	return s.info(u), nil
}

func joinRoles(rs []court.StaffRole) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, "+")
}

// ListUsers implements api.Gate: one page of the accounts, read from
// the store a page at a time.
func (s *Service) ListUsers(ctx context.Context, cursor string, limit int) ([]api.UserInfo, string, error) {
	us, next, err := s.d.Store.UsersPage(ctx, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	out := []api.UserInfo{}
	for _, u := range us {
		out = append(out, s.info(u))
	}
	return out, next, nil
}

// change audits ev (Before) and then changes account name with fn.
func (s *Service) change(ctx context.Context, name, ev, detail string, fn func(*storage.UserRecord) error) (api.UserInfo, error) {
	if _, err := s.d.Store.User(name); err != nil {
		return api.UserInfo{}, err
	}
	if err := s.d.Audit.Before(storage.AuditEntry{Event: ev, Outcome: "ok", Person: s.who(ctx), Detail: "account " + name + detail}); err != nil {
		return api.UserInfo{}, court.Errorf(court.ErrUnavailable, "%v", err)
	}
	u, err := s.d.Store.UpdateUser(name, fn)
	if err != nil {
		return api.UserInfo{}, err
	}
	return s.info(u), nil
}

// DisableUser implements api.Gate: every token of the account stops at
// once (audited: user.disabled).
func (s *Service) DisableUser(ctx context.Context, name string) (api.UserInfo, error) {
	now := s.d.Now().UTC()
	return s.change(ctx, name, "user.disabled", "", func(u *storage.UserRecord) error {
		if !u.Disabled {
			u.Disabled, u.DisabledAt = true, now
		}
		return nil
	})
}

// IssueToken implements api.Gate: a new token for the account, its
// secret returned once (audited: user.token_issued, never the secret).
func (s *Service) IssueToken(ctx context.Context, name string, req api.TokenRequest) (api.IssuedToken, error) {
	days := req.ExpiresInDays
	if days == 0 {
		days = DefaultTokenDays
	}
	if days < 0 || days > api.MaxTokenDays {
		return api.IssuedToken{}, court.Errorf(court.ErrInvalid, "a token lives 1 to %d days, not %d", api.MaxTokenDays, req.ExpiresInDays)
	}
	u, err := s.d.Store.User(name)
	if err != nil {
		return api.IssuedToken{}, err
	}
	if u.Disabled {
		return api.IssuedToken{}, court.Errorf(court.ErrConflict, "account %q is disabled: it gets no token", name)
	}
	var idb [8]byte
	rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	var sec [32]byte
	rand.Read(sec[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	salt := make([]byte, 16)
	rand.Read(salt)
	now := s.d.Now().UTC()
	t := storage.UserToken{ID: id, Salt: salt, Hash: tokenHash(id, secret, salt, argonTime, argonMemory, argonThreads),
		Time: argonTime, Memory: argonMemory, Threads: argonThreads, Created: now, Expires: now.AddDate(0, 0, days)}
	if _, err := s.change(ctx, name, "user.token_issued", fmt.Sprintf(", token %s, expires %s", id, t.Expires.Format(time.DateOnly)), func(u *storage.UserRecord) error {
		if u.Disabled {
			return court.Errorf(court.ErrConflict, "account %q is disabled: it gets no token", name)
		}
		u.Tokens = append(u.Tokens, t)
		return nil
	}); err != nil {
		return api.IssuedToken{}, err
	}
	return api.IssuedToken{User: name, ID: id, Token: api.PersonalTokenPrefix + id + "_" + secret, Expires: t.Expires}, nil
}

// RevokeToken implements api.Gate (audited: user.token_revoked).
func (s *Service) RevokeToken(ctx context.Context, name, id string) (api.UserInfo, error) {
	u, err := s.d.Store.User(name)
	if err != nil {
		return api.UserInfo{}, err
	}
	if !slices.ContainsFunc(u.Tokens, func(t storage.UserToken) bool { return t.ID == id }) {
		return api.UserInfo{}, court.Errorf(court.ErrNotFound, "account %q has no token %q; `courtmesh user list` shows its tokens", name, id)
	}
	now := s.d.Now().UTC()
	return s.change(ctx, name, "user.token_revoked", ", token "+id, func(u *storage.UserRecord) error {
		i := slices.IndexFunc(u.Tokens, func(t storage.UserToken) bool { return t.ID == id })
		if i < 0 {
			return court.Errorf(court.ErrNotFound, "account %q has no token %q; `courtmesh user list` shows its tokens", name, id)
		}
		if u.Tokens[i].Revoked.IsZero() {
			u.Tokens[i].Revoked = now
		}
		return nil
	})
}

// AssignCases implements api.Gate: cases assigned to (or, with Remove,
// taken from) a judge's account (audited: user.cases_assigned).
func (s *Service) AssignCases(ctx context.Context, name string, req api.CasesRequest) (api.UserInfo, error) {
	cases, err := parseCases(req.Cases)
	if err != nil {
		return api.UserInfo{}, err
	}
	if len(cases) == 0 {
		return api.UserInfo{}, court.Errorf(court.ErrInvalid, "name at least one case number")
	}
	u, err := s.d.Store.User(name)
	if err != nil {
		return api.UserInfo{}, err
	}
	if !slices.Contains(u.Roles, court.RoleJudge) && !req.Remove {
		return api.UserInfo{}, court.Errorf(court.ErrInvalid, "account %q is not a judge (承办法官): cases are assigned to judges", name)
	}
	verb := "assigned"
	if req.Remove {
		verb = "removed"
	}
	return s.change(ctx, name, "user.cases_assigned", fmt.Sprintf(", cases %s: %s", verb, strings.Join(cases, " ")), func(u *storage.UserRecord) error {
		if !slices.Contains(u.Roles, court.RoleJudge) && !req.Remove {
			return court.Errorf(court.ErrInvalid, "account %q is not a judge (承办法官): cases are assigned to judges", name)
		}
		for _, c := range cases {
			if req.Remove {
				u.Cases = slices.DeleteFunc(u.Cases, func(x string) bool { return x == c })
			} else if !slices.Contains(u.Cases, c) {
				u.Cases = append(u.Cases, c)
			}
		}
		return nil
	})
}
