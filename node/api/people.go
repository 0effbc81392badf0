package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// People: the named accounts of the court's staff and how a request is
// tied to one.
//
//	GET  /v1/me                                   -> Person (who this token is)
//	GET  /v1/users?limit=&cursor=                 -> []UserInfo (a page, by name; the next page's cursor in X-Next-Cursor)
//	POST /v1/users                                UserRequest -> UserInfo (201)
//	POST /v1/users/{name}/disable                 -> UserInfo
//	POST /v1/users/{name}/tokens                  TokenRequest -> IssuedToken (201; the token shown once)
//	POST /v1/users/{name}/tokens/{token}/revoke   -> UserInfo
//	POST /v1/users/{name}/cases                   CasesRequest -> UserInfo
//
// Every request names a person: a named account's own token, or the
// node's bootstrap token (api.token in the data directory), which acts
// as Bootstrap with every permission. The one policy (policy.go) decides
// what each may do.

// PersonalTokenPrefix starts every personal API token:
// "cmu_<16 hex digits of the token id>_<secret>".
const PersonalTokenPrefix = "cmu_"

// Person is who a request acts as.
type Person struct {
	// Name is the account's login name; "api-token" for the bootstrap
	// token.
	Name string `json:"name"`
	// DisplayName is the person's name (姓名) as records the law ties to
	// a person carry it, sealed.
	DisplayName string            `json:"display_name,omitempty"`
	Roles       []court.StaffRole `json:"roles"`
	// Cases are the case numbers assigned to a judge (承办).
	Cases []string `json:"cases,omitempty"`
	// TokenID is the token the request came with ("" for the bootstrap).
	TokenID string `json:"token_id,omitempty"`
	// Bootstrap marks the node's own token: every permission, for the
	// court's case-management system, the command line on the node's own
	// machine and IT's first steps.
	Bootstrap bool `json:"bootstrap,omitempty"`
}

// Bootstrap is the person of the node's bootstrap token.
var Bootstrap = Person{Name: ActorToken, Bootstrap: true}

// Has reports whether p holds role r.
func (p Person) Has(r court.StaffRole) bool { return slices.Contains(p.Roles, r) }

// Owns reports whether case number n is assigned to p.
func (p Person) Owns(n string) bool { return n != "" && slices.Contains(p.Cases, n) }

// Actor is how the audit log names p: "api-token" for the bootstrap,
// "user:<name>" for a person.
func (p Person) Actor() string {
	if p.Bootstrap {
		return ActorToken
	}
	return "user:" + p.Name
}

type personKey struct{}

// WithPerson returns ctx acting as p (and naming p's Actor for the
// audit log).
func WithPerson(ctx context.Context, p Person) context.Context {
	return WithActor(context.WithValue(ctx, personKey{}, p), p.Actor())
}

// PersonFrom returns the person ctx acts as, if any.
func PersonFrom(ctx context.Context) (Person, bool) {
	p, ok := ctx.Value(personKey{}).(Person)
	return p, ok
}

// ResponsibleName is the name a record the law ties to a person carries
// (sealed) for the request in ctx: the person's name (姓名), "" for the
// bootstrap token or no person.
func ResponsibleName(ctx context.Context) string {
	if p, ok := PersonFrom(ctx); ok && !p.Bootstrap {
		if p.DisplayName != "" {
			return p.DisplayName
		}
		return p.Name
	}
	return ""
}

// UserRequest creates an account.
type UserRequest struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
	Cases       []string `json:"cases,omitempty"`
}

// CasesRequest assigns cases to a judge's account, or with Remove takes
// them away.
type CasesRequest struct {
	Cases  []string `json:"cases"`
	Remove bool     `json:"remove,omitempty"`
}

// TokenRequest issues an API token for an account; ExpiresInDays is 90
// when zero, at most MaxTokenDays.
type TokenRequest struct {
	ExpiresInDays int `json:"expires_in_days,omitempty"`
}

// MaxTokenDays bounds a token's life.
const MaxTokenDays = 366

// TokenInfo describes a token without its secret.
type TokenInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked time.Time `json:"revoked,omitzero"`
	State   string    `json:"state"` // active, expired, revoked
}

// UserInfo describes an account.
type UserInfo struct {
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name"`
	Roles       []court.StaffRole `json:"roles"`
	Cases       []string          `json:"cases,omitempty"`
	Created     time.Time         `json:"created"`
	CreatedBy   string            `json:"created_by"`
	Disabled    bool              `json:"disabled"`
	DisabledAt  time.Time         `json:"disabled_at,omitzero"`
	Tokens      []TokenInfo       `json:"tokens"`
}

// IssuedToken is a new token: Token is its only appearance in clear.
type IssuedToken struct {
	User    string    `json:"user"`
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Access is one request the policy audits: an action, a read of
// personal data, a refusal.
type Access struct {
	Person   Person
	Route    string // the route's pattern
	Path     string
	Transfer string
	Case     string
	Outcome  string // allowed, refused, or the answer's status ("done 200")
	Reason   string // why refused
}

// Gate is what the policy and the people routes consume; node/users
// implements it. Methods are safe for concurrent use.
type Gate interface {
	// Authenticate checks a personal token (PersonalTokenPrefix...) and
	// returns its person; court.ErrPermission when it is unknown, wrong,
	// expired or revoked, or its account is disabled.
	Authenticate(ctx context.Context, token string) (Person, error)
	// PersonByToken returns the person of the token id if it is still
	// good (for a dashboard session, which carries the id, not the
	// secret); court.ErrPermission otherwise.
	PersonByToken(ctx context.Context, id string) (Person, error)
	// TransferCases names the case numbers of transfer id at this node
	// (the origin's and the receiver's), to check a judge's own cases.
	TransferCases(id court.TransferID) ([]string, error)
	// AuditBefore writes a's entry before the request is served; an
	// error refuses the request.
	AuditBefore(a Access) error
	// AuditAfter writes a's entry after the fact (a refusal, an
	// answer); a failure is counted and logged by the audit service.
	AuditAfter(a Access) error

	AddUser(ctx context.Context, req UserRequest) (UserInfo, error)
	// ListUsers returns a page of the accounts, by name, and the cursor
	// of the next page ("" at the end); limit 0 means DefaultPage.
	ListUsers(ctx context.Context, cursor string, limit int) ([]UserInfo, string, error)
	DisableUser(ctx context.Context, name string) (UserInfo, error)
	IssueToken(ctx context.Context, name string, req TokenRequest) (IssuedToken, error)
	RevokeToken(ctx context.Context, name, id string) (UserInfo, error)
	AssignCases(ctx context.Context, name string, req CasesRequest) (UserInfo, error)
}

// SetGate installs the people service: from then on personal tokens
// are accepted and the people routes are served. Call it once, before
// Serve.
func (s *Server) SetGate(g Gate) {
	s.gate = g
	s.Handle("GET /v1/me", func(w http.ResponseWriter, r *http.Request) {
		p, _ := PersonFrom(r.Context())
		writeJSON(w, http.StatusOK, p)
	})
	answer := func(w http.ResponseWriter, status int, v any, err error) {
		if err != nil {
			WriteError(w, err)
			return
		}
		writeJSON(w, status, v)
	}
	s.Handle("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if !CheckQuery(w, r, "cursor", "limit") {
			return
		}
		cursor, limit, ok := PageParams(w, r, "accounts")
		if !ok {
			return
		}
		us, next, err := g.ListUsers(r.Context(), cursor, limit)
		writePage(w, us, next, err)
	})
	s.Handle("POST /v1/users", func(w http.ResponseWriter, r *http.Request) {
		var req UserRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		u, err := g.AddUser(r.Context(), req)
		answer(w, http.StatusCreated, u, err)
	})
	s.Handle("POST /v1/users/{name}/disable", func(w http.ResponseWriter, r *http.Request) {
		u, err := g.DisableUser(r.Context(), r.PathValue("name"))
		answer(w, http.StatusOK, u, err)
	})
	s.Handle("POST /v1/users/{name}/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req TokenRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		t, err := g.IssueToken(r.Context(), r.PathValue("name"), req)
		w.Header().Set("Cache-Control", "no-store")
		answer(w, http.StatusCreated, t, err)
	})
	s.Handle("POST /v1/users/{name}/tokens/{token}/revoke", func(w http.ResponseWriter, r *http.Request) {
		u, err := g.RevokeToken(r.Context(), r.PathValue("name"), r.PathValue("token"))
		answer(w, http.StatusOK, u, err)
	})
	s.Handle("POST /v1/users/{name}/cases", func(w http.ResponseWriter, r *http.Request) {
		var req CasesRequest
		if !DecodeBody(w, r, &req) {
			return
		}
		u, err := g.AssignCases(r.Context(), r.PathValue("name"), req)
		answer(w, http.StatusOK, u, err)
	})
}
