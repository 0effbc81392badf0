package party

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// The portal's limits.
const (
	// SessionIdle and SessionMax bound a session: idle time, and whole life.
	SessionIdle = 15 * time.Minute
	SessionMax  = 2 * time.Hour
	// MaxSessions bounds the sessions held at once.
	MaxSessions = 20_000
	// maxSignInBody and maxComplaintBody bound request bodies.
	maxSignInBody    = 2 << 10
	maxComplaintBody = 16 << 10
	// maxVerifying bounds concurrent argon2id checks (19 MiB each).
	maxVerifying = 4
)

// ContentSecurityPolicy is the portal's CSP: nothing but its own
// stylesheet, no script at all, forms only to itself, never framed.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const (
	cookieSession = "cm_party"
	cookieCSRF    = "cm_csrf"
	cookieLang    = "cm_lang"
)

type session struct {
	id      Identity
	csrf    string
	created time.Time
	seen    time.Time
}

// PortalOptions configure a Portal.
type PortalOptions struct {
	// TrustProxy takes the client's address from the last entry of
	// X-Forwarded-For when the connection comes from a loopback address
	// (the court's reverse proxy on the same host). Off: RemoteAddr.
	TrustProxy bool
	// SecureCookies marks cookies Secure (set it when the portal is
	// served over HTTPS, as it should be behind the court's portal).
	SecureCookies bool
	Log           *slog.Logger
	Now           func() time.Time
	// Registerer, if set, receives the portal's metrics:
	// courtmesh_party_signins_total{outcome} (ok, refused, locked) and
	// courtmesh_party_sessions. No label names a case or a party.
	Registerer prometheus.Registerer
	// Lockouts, if set, keeps the per-case-number lockouts across
	// restarts (the node's store). The per-source ones stay in memory:
	// addresses change, and a restart lifting them costs the attacker
	// the lockout it had earned only until it earns it again.
	Lockouts LockoutStore
}

// Portal is the party-facing HTTP service: sign-in, the status page,
// complaints. It reaches the node only through Service.
type Portal struct {
	svc      *Service
	opts     PortalOptions
	now      func() time.Time
	log      *slog.Logger
	tmpl     *template.Template
	css      []byte
	byCase   *limiter
	bySource *limiter
	verify   chan struct{}

	mu       sync.Mutex
	sessions map[string]*session
	signins  *prometheus.CounterVec
}

// NewPortal builds the portal over svc.
func NewPortal(svc *Service, o PortalOptions) (*Portal, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Portal{svc: svc, opts: o, now: o.Now, log: o.Log, byCase: newLimiter(CaseLimits, o.Now), bySource: newLimiter(SourceLimits, o.Now),
		verify: make(chan struct{}, maxVerifying), sessions: map[string]*session{}}
	if o.Lockouts != nil {
		var err error
		if p.byCase, err = newStoredLimiter(CaseLimits, o.Now, o.Lockouts, func(err error) {
			p.log.Warn("party service: a sign-in lockout could not be stored; it holds until the next restart", "reason", err)
		}); err != nil {
			return nil, fmt.Errorf("party service: read the stored sign-in lockouts: %w", err)
		}
	}
	p.signins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "courtmesh_party_signins_total",
		Help: "Sign-ins to the party service by outcome: ok, refused (wrong case number, code or digits), locked (refused unchecked during a lockout)."}, []string{"outcome"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(p.signins); err != nil {
			return nil, err
		}
		if err := o.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "courtmesh_party_sessions", Help: "Party service sessions held."},
			func() float64 { return float64(p.Sessions()) })); err != nil {
			return nil, err
		}
	}
	t, err := p.templates()
	if err != nil {
		return nil, err
	}
	p.tmpl = t
	if p.css, err = web.ReadFile("web/party.css"); err != nil {
		return nil, err
	}
	return p, nil
}

// Handler is the portal's HTTP handler.
func (p *Portal) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("GET /party.css", p.styles)
	mux.HandleFunc("POST /signin", p.signIn)
	mux.HandleFunc("GET /case", p.casePage)
	mux.HandleFunc("POST /complaints", p.complain)
	mux.HandleFunc("POST /signout", p.signOut)
	return p.headers(mux)
}

// Serve serves the portal on l until ctx ends.
func (p *Portal) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		srv.Close()
	}()
	err := srv.Serve(l)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (p *Portal) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if len(r.URL.RawQuery) > 256 || len(r.URL.Path) > 256 {
			p.fail(w, r, http.StatusRequestURITooLong, "")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (p *Portal) styles(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(p.css)
}

// lang is the page language: ?lang= (remembered in a cookie), else the
// cookie, else Chinese. ok is false for an unknown ?lang.
func (p *Portal) lang(w http.ResponseWriter, r *http.Request) (string, bool) {
	if v, ok := r.URL.Query()["lang"]; ok {
		if len(v) != 1 || texts[v[0]] == nil {
			return "zh", false
		}
		p.setCookie(w, cookieLang, v[0], 365*24*time.Hour)
		return v[0], true
	}
	if c, err := r.Cookie(cookieLang); err == nil && texts[c.Value] != nil {
		return c.Value, true
	}
	return "zh", true
}

func (p *Portal) setCookie(w http.ResponseWriter, name, value string, life time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: p.opts.SecureCookies, SameSite: http.SameSiteStrictMode}
	if life > 0 {
		c.MaxAge = int(life.Seconds())
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func token() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// pageData is what the template renders.
type pageData struct {
	Lang       string
	L          map[string]string
	Kind       string // signin | case | error
	Error      string
	CSRF       string
	Session    bool
	View       *View
	Filed      string
	Categories []string
}

func (p *Portal) render(w http.ResponseWriter, status int, d pageData) {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "page", d); err != nil {
		p.log.Error("party page does not render", "reason", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers a request with an error page in the page's language; the
// message is a key of texts, or "" for the status text alone.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	lang := "zh"
	if c, err := r.Cookie(cookieLang); err == nil && texts[c.Value] != nil {
		lang = c.Value
	}
	msg := http.StatusText(status)
	if key != "" {
		msg = texts[lang][key]
	}
	p.render(w, status, pageData{Lang: lang, L: texts[lang], Kind: "error", Error: msg})
}

// onlyQuery answers 400 unless the query holds only the named keys, each
// once.
func (p *Portal) onlyQuery(w http.ResponseWriter, r *http.Request, keys ...string) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		p.fail(w, r, http.StatusBadRequest, "")
		return false
	}
	for k, v := range q {
		if !slices.Contains(keys, k) || len(v) != 1 {
			p.fail(w, r, http.StatusBadRequest, "")
			return false
		}
	}
	return true
}

// session returns the request's live session, refreshing it.
func (p *Portal) session(r *http.Request) (*session, string) {
	c, err := r.Cookie(cookieSession)
	if err != nil || len(c.Value) != 43 {
		return nil, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sessions[c.Value]
	if s == nil {
		return nil, ""
	}
	now := p.now()
	if now.Sub(s.seen) > SessionIdle || now.Sub(s.created) > SessionMax {
		delete(p.sessions, c.Value)
		return nil, ""
	}
	s.seen = now
	return s, c.Value
}

func (p *Portal) newSession(id Identity) (string, *session, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if len(p.sessions) >= MaxSessions {
		for k, s := range p.sessions {
			if now.Sub(s.seen) > SessionIdle || now.Sub(s.created) > SessionMax {
				delete(p.sessions, k)
			}
		}
		if len(p.sessions) >= MaxSessions {
			return "", nil, false
		}
	}
	k := token()
	s := &session{id: id, csrf: token(), created: now, seen: now}
	p.sessions[k] = s
	return k, s, true
}

// Sessions is the number of sessions held (for tests and metrics).
func (p *Portal) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	if !p.onlyQuery(w, r, "lang") {
		return
	}
	lang, ok := p.lang(w, r)
	if !ok {
		p.fail(w, r, http.StatusBadRequest, "")
		return
	}
	if s, _ := p.session(r); s != nil {
		http.Redirect(w, r, "/case", http.StatusSeeOther)
		return
	}
	p.signInPage(w, r, lang, http.StatusOK, "")
}

func (p *Portal) signInPage(w http.ResponseWriter, r *http.Request, lang string, status int, errKey string) {
	// One token per browser (double-submit): a form re-shown after a
	// wrong try keeps it.
	t := ""
	if c, err := r.Cookie(cookieCSRF); err == nil && len(c.Value) == 43 {
		t = c.Value
	} else {
		t = token()
	}
	p.setCookie(w, cookieCSRF, t, time.Hour)
	d := pageData{Lang: lang, L: texts[lang], Kind: "signin", CSRF: t}
	if errKey != "" {
		d.Error = texts[lang][errKey]
	}
	p.render(w, status, d)
}

// form parses a urlencoded form body of at most max bytes; it answers
// 415, 413 or 400 itself and returns nil.
func (p *Portal) form(w http.ResponseWriter, r *http.Request, max int64, fields ...string) url.Values {
	if r.URL.RawQuery != "" {
		p.fail(w, r, http.StatusBadRequest, "")
		return nil
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		p.fail(w, r, http.StatusUnsupportedMediaType, "")
		return nil
	}
	if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
		p.fail(w, r, http.StatusUnsupportedMediaType, "")
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			p.fail(w, r, http.StatusRequestEntityTooLarge, "")
		} else {
			p.fail(w, r, http.StatusBadRequest, "")
		}
		return nil
	}
	for k, v := range r.PostForm {
		if !slices.Contains(fields, k) || len(v) != 1 {
			p.fail(w, r, http.StatusBadRequest, "")
			return nil
		}
	}
	for _, f := range fields {
		if len(r.PostForm[f]) != 1 {
			p.fail(w, r, http.StatusBadRequest, "")
			return nil
		}
	}
	return r.PostForm
}

func equalToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// source is the client's address, the key of the per-source limits.
func (p *Portal) source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if p.opts.TrustProxy {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			if xs := r.Header.Values("X-Forwarded-For"); len(xs) > 0 {
				last := xs[len(xs)-1]
				for i := len(last) - 1; i >= 0; i-- {
					if last[i] == ',' {
						last = last[i+1:]
						break
					}
				}
				if ip := net.ParseIP(trimSpace(last)); ip != nil {
					return ip.String()
				}
			}
		}
	}
	return host
}

func trimSpace(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// caseKey is the per-case limit key: the case number normalised when it
// parses, else a hash of the text as typed (so that a key stays small).
func caseKey(s string) string {
	if n, err := court.ParseCaseNumber(s); err == nil {
		return n.String()
	}
	h := sha256.Sum256([]byte(s))
	return "?" + hex.EncodeToString(h[:12])
}

func (p *Portal) tooMany(w http.ResponseWriter, r *http.Request, lang string, d time.Duration) {
	p.signins.WithLabelValues("locked").Inc()
	w.Header().Set("Retry-After", strconv.Itoa(int(d.Seconds())+1))
	p.signInPage(w, r, lang, http.StatusTooManyRequests, "locked")
}

func (p *Portal) signIn(w http.ResponseWriter, r *http.Request) {
	lang, _ := p.lang(w, r)
	f := p.form(w, r, maxSignInBody, "csrf", "case", "code", "id4")
	if f == nil {
		return
	}
	c, err := r.Cookie(cookieCSRF)
	if err != nil || !equalToken(c.Value, f.Get("csrf")) {
		p.fail(w, r, http.StatusForbidden, "")
		return
	}
	src, ck := p.source(r), caseKey(f.Get("case"))
	if d := max(p.bySource.locked(src), p.byCase.locked(ck)); d > 0 {
		p.tooMany(w, r, lang, d)
		return
	}
	select {
	case p.verify <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	id, err := p.svc.SignIn(f.Get("case"), f.Get("code"), f.Get("id4"))
	<-p.verify
	switch {
	case errors.Is(err, ErrSignIn):
		ds, dc := p.bySource.fail(src), p.byCase.fail(ck)
		if d := max(ds, dc); d > 0 {
			p.tooMany(w, r, lang, d)
			return
		}
		p.signins.WithLabelValues("refused").Inc()
		p.signInPage(w, r, lang, http.StatusUnauthorized, "badsignin")
		return
	case err != nil:
		p.log.Warn("party sign-in failed", "reason", court.KindOf(err))
		p.fail(w, r, http.StatusServiceUnavailable, "")
		return
	}
	p.bySource.succeed(src)
	p.signins.WithLabelValues("ok").Inc()
	k, _, ok := p.newSession(id)
	if !ok {
		p.fail(w, r, http.StatusServiceUnavailable, "")
		return
	}
	p.setCookie(w, cookieCSRF, "", 0)
	p.setCookie(w, cookieSession, k, SessionMax)
	http.Redirect(w, r, "/case", http.StatusSeeOther)
}

func (p *Portal) casePage(w http.ResponseWriter, r *http.Request) {
	if !p.onlyQuery(w, r, "lang", "filed") {
		return
	}
	lang, ok := p.lang(w, r)
	if !ok {
		p.fail(w, r, http.StatusBadRequest, "")
		return
	}
	s, _ := p.session(r)
	if s == nil {
		p.signInPage(w, r, lang, http.StatusUnauthorized, "expired")
		return
	}
	v, err := p.svc.Status(r.Context(), s.id)
	if err != nil {
		p.log.Warn("party status failed", "reason", court.KindOf(err))
		p.fail(w, r, http.StatusServiceUnavailable, "")
		return
	}
	d := pageData{Lang: lang, L: texts[lang], Kind: "case", CSRF: s.csrf, Session: true, View: v, Categories: cmproto.ComplaintCategories}
	if f := r.URL.Query().Get("filed"); f != "" {
		// Acknowledge only a complaint of this case.
		if !slices.ContainsFunc(v.Complaints, func(c ComplaintView) bool { return c.Ref == f }) {
			p.fail(w, r, http.StatusNotFound, "")
			return
		}
		d.Filed = f
	}
	p.render(w, http.StatusOK, d)
}

func (p *Portal) complain(w http.ResponseWriter, r *http.Request) {
	s, _ := p.session(r)
	if s == nil {
		lang, _ := p.lang(w, r)
		p.signInPage(w, r, lang, http.StatusUnauthorized, "expired")
		return
	}
	f := p.form(w, r, maxComplaintBody, "csrf", "target", "category", "text")
	if f == nil {
		return
	}
	if !equalToken(s.csrf, f.Get("csrf")) {
		p.fail(w, r, http.StatusForbidden, "")
		return
	}
	target, err := court.ParseCourtCode(f.Get("target"))
	if err != nil {
		p.fail(w, r, http.StatusUnprocessableEntity, "")
		return
	}
	c, err := p.svc.File(r.Context(), s.id, target, f.Get("category"), f.Get("text"))
	switch court.KindOf(err) {
	case nil:
	case court.ErrInvalid:
		p.fail(w, r, http.StatusUnprocessableEntity, "")
		return
	case court.ErrConflict:
		p.fail(w, r, http.StatusTooManyRequests, "")
		return
	default:
		p.log.Warn("party complaint failed", "reason", court.KindOf(err))
		p.fail(w, r, http.StatusServiceUnavailable, "")
		return
	}
	http.Redirect(w, r, "/case?filed="+string(c.ID), http.StatusSeeOther)
}

func (p *Portal) signOut(w http.ResponseWriter, r *http.Request) {
	s, k := p.session(r)
	if s == nil {
		p.fail(w, r, http.StatusUnauthorized, "expired")
		return
	}
	f := p.form(w, r, maxSignInBody, "csrf")
	if f == nil {
		return
	}
	if !equalToken(s.csrf, f.Get("csrf")) {
		p.fail(w, r, http.StatusForbidden, "")
		return
	}
	p.mu.Lock()
	delete(p.sessions, k)
	p.mu.Unlock()
	p.setCookie(w, cookieSession, "", 0)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
