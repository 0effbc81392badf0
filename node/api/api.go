package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// Stable error codes.
const (
	CodeUnauthorised = "unauthorised"
	CodeInvalid      = "invalid"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeForbidden    = "forbidden"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
	CodeTooLarge     = "too_large"
)

// Error is the JSON error body.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"-"`
}

// Error reads as the node's message, which is the node's own error text:
// for an error of a plain kind (invalid, not_found, conflict, ...) it
// already says what failed in words a clerk reads, often starting with the
// kind ("invalid transfer id …"), so prefixing the code as well read
// "invalid: invalid …". That code stays in Code, for scripts, and in the
// kind Unwrap returns (the CLI's exit status). A more specific code
// (handover_blocked, too_large, unauthorised) still leads the message,
// which does not say it.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	if kindCodes[e.Code] {
		return e.Message
	}
	return e.Code + ": " + e.Message
}

// kindCodes are the codes that only name an error kind.
var kindCodes = map[string]bool{
	CodeInvalid: true, CodeNotFound: true, CodeForbidden: true, CodeRevoked: true, CodeConflict: true,
	CodeStale: true, CodeUnavailable: true, CodeCorrupt: true, CodeInternal: true,
}

// Errorf makes an API error with a status and stable code.
func Errorf(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// Status is the node's state as /v1/status reports it.
type Status struct {
	Version     string    `json:"version"`
	CourtCode   string    `json:"court_code"`
	CourtName   string    `json:"court_name"`
	Roles       []string  `json:"roles"`
	PeerID      string    `json:"peer_id"`
	Serial      uint64    `json:"certificate_serial"`
	CertExpires time.Time `json:"certificate_expires"`
	ListenAddrs []string  `json:"listen_addrs"`
	Peers       int       `json:"peers"`
	Started     time.Time `json:"started"`
	Bundle      Bundle    `json:"bundle"`
	// Clock compares this node's clock with its peers' heartbeats; nil
	// when the node reports none.
	Clock *ClockCheck `json:"clock,omitempty"`
}

// Bundle describes the trust bundle in force.
type Bundle struct {
	Sequence     uint64    `json:"sequence"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	State        string    `json:"state"`
	DaysLeft     int       `json:"days_left"`
	Certificates int       `json:"certificates"`
	Revocations  int       `json:"revocations"`
}

// Peer is one connected, admitted peer.
type Peer struct {
	PeerID    string   `json:"peer_id"`
	CourtCode string   `json:"court_code"`
	CourtName string   `json:"court_name"`
	Level     string   `json:"level"`
	Roles     []string `json:"roles"`
	Addrs     []string `json:"addrs"`
}

// InstallResult answers a bundle push.
type InstallResult struct {
	Installed bool   `json:"installed"`
	Sequence  uint64 `json:"sequence"`
}

// Backend is what the API serves; the node implements it. Methods must be
// safe for concurrent use and return *Error for failures the caller can
// act on.
type Backend interface {
	Status() Status
	Peers() []Peer
	// InstallBundle installs a pushed bundle or delta; head is the whole
	// bundle's root-signed head, or nil (see BundleHeadHeader).
	InstallBundle(ctx context.Context, raw, head []byte) (InstallResult, error)
}

// BundleHeadHeader carries, in POST /v1/trust/bundle, the root-signed
// head of the whole bundle in the body (the .head file `ca bundle` writes
// beside it), in standard base64. The node checks that it matches the
// bundle before installing, keeps it, and announces it, so that peers
// check it before they download. Without it (clients before it) a whole
// bundle still installs, audited, and is announced without a head.
const BundleHeadHeader = "X-Courtmesh-Bundle-Head"

// MaxBundleBody bounds a pushed bundle.
const MaxBundleBody = 32 << 20

// Server serves the API.
type Server struct {
	be     Backend
	token  string
	gate   Gate // the people service; nil: the bootstrap token only
	log    *slog.Logger
	mux    *http.ServeMux
	routes []string // every pattern registered, for the OpenAPI check
}

// NewServer builds the handler set around be.
func NewServer(be Backend, token string, log *slog.Logger) *Server {
	s := &Server{be: be, token: token, log: log, mux: http.NewServeMux()}
	s.Handle("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.be.Status()) })
	s.Handle("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.be.Peers()) })
	s.Handle("POST /v1/trust/bundle", s.postBundle)
	s.Handle("GET /v1/openapi.json", serveOpenAPI)
	return s
}

// Handle registers a further endpoint; later services add theirs here.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, s.guard(pattern, h))
}

// Routes lists the registered patterns ("METHOD /path/{param}").
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

func (s *Server) postBundle(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBundleBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		WriteError(w, Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "trust bundle larger than %d bytes", MaxBundleBody))
		return
	case err != nil:
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "reading the request body: %v", err))
		return
	}
	var head []byte
	if h := r.Header.Get(BundleHeadHeader); h != "" {
		if head, err = base64.StdEncoding.DecodeString(h); err != nil {
			WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "the %s header is not in base64: send the .head file `ca bundle` wrote beside the bundle, base64-encoded", BundleHeadHeader))
			return
		}
	}
	res, err := s.be.InstallBundle(r.Context(), raw, head)
	switch {
	case errors.Is(err, court.ErrRevoked): // expired: it verified, but is out of date
		WriteError(w, Errorf(http.StatusUnprocessableEntity, CodeInvalid, "trust bundle refused: %v", err))
	case errors.Is(err, court.ErrInvalid), errors.Is(err, court.ErrPermission): // does not verify against the root
		WriteError(w, Errorf(http.StatusBadRequest, CodeInvalid, "trust bundle refused: %v", err))
	case err != nil:
		WriteError(w, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// SessionCookie is the cookie a browser shows instead of the bearer
// token, which browsers cannot send by themselves. GET /dashboard?token=T
// with the right token (the bootstrap token or a person's own) sets it
// (HttpOnly, SameSite=Strict) and redirects to the same page without the
// token. Its value is derived from the token (HMAC-SHA-256), so it is not
// the token and dies with it; it is good for reading the dashboard only
// (GET or HEAD of SessionPaths), never for changing anything, and only
// as far as the policy lets its person.
const SessionCookie = "courtmesh_session"

// SessionPaths are the paths the session cookie opens: the dashboard
// page, its JSON, the decide view and the indicators its figures link to
// (counts only), metadata only.
var SessionPaths = []string{"/dashboard", "/v1/dashboard", "/dashboard/decide", "/v1/indicators"}

// ServeHTTP names the person of every request (the bootstrap bearer
// token, a personal token, or, for the dashboard, a session cookie), then
// dispatches; the policy wrapped around each route (policy.go) decides
// what that person may do.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/dashboard" && r.URL.Query().Has("token") {
		s.login(w, r)
		return
	}
	p, ok := s.authenticate(r)
	if !ok {
		WriteError(w, Errorf(http.StatusUnauthorized, CodeUnauthorised, "missing, wrong, expired or revoked bearer token; a person's token comes from IT (`courtmesh user token`), the node's own is in its data directory (api.token); a browser opens /dashboard?token=<that token>"))
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(WithPerson(r.Context(), p)))
}

// ActorToken names, in the audit log, a caller of the local API with the
// node's bootstrap token (api.token), held by the court's
// case-management system and the command line; a person with a token of
// their own is named "user:<name>".
const ActorToken = "api-token"

type actorKey struct{}

// WithActor returns ctx naming who acts (for the audit log).
func WithActor(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, actorKey{}, who)
}

// ActorFrom returns who acts in ctx, or "" if not known.
func ActorFrom(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// authenticate names the person of r: the bearer token (the bootstrap
// token, in constant time, or a personal one), or the session cookie for
// reading the dashboard.
func (s *Server) authenticate(r *http.Request) (Person, bool) {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1 {
			return Bootstrap, true
		}
		if s.gate == nil || !strings.HasPrefix(got, PersonalTokenPrefix) {
			return Person{}, false
		}
		p, err := s.gate.Authenticate(r.Context(), got)
		return p, err == nil
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !slices.Contains(SessionPaths, r.URL.Path) {
		return Person{}, false
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Person{}, false
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session(""))) == 1 {
		return Bootstrap, true
	}
	id, mac, ok := strings.Cut(strings.TrimPrefix(c.Value, "p1."), ".")
	if !strings.HasPrefix(c.Value, "p1.") || !ok || s.gate == nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session(id))) != 1 || mac == "" {
		return Person{}, false
	}
	p, err := s.gate.PersonByToken(r.Context(), id)
	return p, err == nil
}

// session is the session cookie's value: for the bootstrap token (id
// ""), an HMAC of the token in force; for a person's token id,
// "p1.<id>." and an HMAC of the id under the bootstrap token, so the
// cookie names the token but holds no secret of it, and dies with it
// (revoked, expired, its account disabled) as with the bootstrap token.
func (s *Server) session(id string) string {
	m := hmac.New(sha256.New, []byte(s.token))
	if id == "" {
		m.Write([]byte("courtmesh dashboard session v1"))
		return hex.EncodeToString(m.Sum(nil))
	}
	m.Write([]byte("courtmesh dashboard session v2\x00" + id))
	return "p1." + id + "." + hex.EncodeToString(m.Sum(nil))
}

// login trades ?token= (the bootstrap token or a person's) for the
// session cookie and redirects to the page without the token (other
// query parameters kept). The token is never echoed. A person's sign-in
// is audited (person.signin) before the cookie is set.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	q := r.URL.Query()
	tok := q.Get("token")
	value := ""
	switch {
	case r.Method != http.MethodGet:
	case subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1:
		value = s.session("")
	case s.gate != nil && strings.HasPrefix(tok, PersonalTokenPrefix):
		p, err := s.gate.Authenticate(r.Context(), tok)
		if err != nil {
			break
		}
		a := Access{Person: p, Route: "GET /dashboard", Path: "/dashboard", Outcome: "signed in"}
		if err := s.gate.AuditBefore(a); err != nil {
			WriteError(w, court.Errorf(court.ErrUnavailable, "%v", err))
			return
		}
		value = s.session(p.TokenID)
	}
	if value == "" {
		WriteError(w, Errorf(http.StatusUnauthorized, CodeUnauthorised, "wrong, expired or revoked dashboard token; open /dashboard?token=<your own token from IT, or the contents of api.token in the node's data directory>"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	q.Del("token")
	target := "/dashboard"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Serve listens on the Unix socket (always) and on tcpAddr unless it is
// "off", until ctx ends. tcpAddr must be a loopback address. ready, if
// not nil, receives the bound TCP address ("" if off).
func (s *Server) Serve(ctx context.Context, socket, tcpAddr string, ready func(tcp string)) error {
	os.Remove(socket)
	ul, err := net.Listen("unix", socket)
	if err != nil {
		return fmt.Errorf("local API socket %s: %w", socket, err)
	}
	os.Chmod(socket, 0o600)
	listeners := []net.Listener{ul}
	bound := ""
	if tcpAddr != "off" {
		host, _, err := net.SplitHostPort(tcpAddr)
		if err != nil {
			ul.Close()
			return fmt.Errorf("local API address %q: %w", tcpAddr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			ul.Close()
			return fmt.Errorf("local API address %q is not a loopback address; the API must not be reachable from the network", tcpAddr)
		}
		tl, err := net.Listen("tcp", tcpAddr)
		if err != nil {
			ul.Close()
			return fmt.Errorf("local API address %s: %w", tcpAddr, err)
		}
		listeners = append(listeners, tl)
		bound = tl.Addr().String()
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errc <- srv.Serve(l) }()
	}
	if ready != nil {
		ready(bound)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			srv.Close()
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	os.Remove(socket)
	return nil
}

// writeJSON writes v as json.Encoder with a two-space indent would (HTML
// characters escaped, a final newline); a v that does not marshal gets
// the status and no body, as from the encoder. The indent is
// appendIndented's, which copies strings whole (json.Indent's scanner
// cost about 5 µs an alert of GET /v1/alerts).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	out := appendIndented(make([]byte, 0, len(b)+len(b)/4+16), b)
	w.Write(append(out, '\n'))
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }
