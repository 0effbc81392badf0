package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"courtmesh.dev/courtmesh/court"
)

// The one policy of the local API: who may call which route. Server.Handle
// wraps every route in it, so no handler checks a role; a route without
// an entry here is refused to everyone but the bootstrap token (and
// TestEveryRouteEveryRole fails).
//
// Besides the roles, a rule may say:
//   - Personal: the answer carries personal data (masked or not); each
//     such read is audited with the person before it is answered.
//   - Own: a judge (承办法官) holds the route only for the cases assigned
//     to him or her (the {number} in the path, or the transfer's case
//     numbers at this node); the other roles of the rule hold it for
//     every case.
//   - Reveal: with ?reveal=1 only a judge, for an own case, may call it.
//   - Override: a request whose body sets override_reason (a handover
//     overriding the 30-day guard) needs 执行局长.
//
// Every action (any method but GET and HEAD) and every Personal read is
// written to the audit log with the person before it is served (nothing
// is done if it cannot be written), and its answer's status after; a
// refusal is written after the fact.

// Rule is the policy of one route.
type Rule struct {
	Roles    []court.StaffRole
	Personal bool
	Own      bool
	Reveal   bool
	Override bool
}

var (
	clerk    = court.RoleClerk
	judge    = court.RoleJudge
	director = court.RoleDirector
	superior = court.RoleSuperiorJudge
	it       = court.RoleIT
	auditor  = court.RoleAuditor
	operator = court.RoleOperator
	everyone = court.StaffRoles
)

func roles(rs ...court.StaffRole) []court.StaffRole { return rs }

// Policy is the rule of every route, by its pattern.
var Policy = map[string]Rule{
	// The node, its trust and its people.
	"GET /v1/status":                              {Roles: everyone},
	"GET /v1/peers":                               {Roles: everyone},
	"GET /v1/openapi.json":                        {Roles: everyone},
	"GET /v1/me":                                  {Roles: everyone},
	"POST /v1/trust/bundle":                       {Roles: roles(it)},
	"GET /v1/trust/log-head":                      {Roles: roles(it, auditor, operator)},
	"POST /v1/backup":                             {Roles: roles(it)},
	"GET /v1/users":                               {Roles: roles(it)},
	"POST /v1/users":                              {Roles: roles(it)},
	"POST /v1/users/{name}/disable":               {Roles: roles(it)},
	"POST /v1/users/{name}/tokens":                {Roles: roles(it)},
	"POST /v1/users/{name}/tokens/{token}/revoke": {Roles: roles(it)},
	"POST /v1/users/{name}/cases":                 {Roles: roles(it, director)},
	"GET /v1/audit":                               {Roles: roles(auditor)},

	// Health and the dashboard: metadata only.
	"GET /v1/mesh":          {Roles: roles(operator, it, director, superior)},
	"GET /v1/alerts":        {Roles: roles(operator, it, director, superior, judge, clerk)},
	"GET /v1/indicators":    {Roles: roles(operator, director, superior)},
	"GET /dashboard":        {Roles: roles(operator, director, superior)},
	"GET /v1/dashboard":     {Roles: roles(operator, director, superior)},
	"GET /v1/metrics":       {Roles: roles(operator, it)},
	"GET /dashboard/decide": {Roles: roles(superior)},

	// The court's cases.
	"POST /v1/cases/import":          {Roles: roles(clerk)},
	"GET /v1/cases":                  {Roles: roles(clerk, judge), Personal: true},
	"GET /v1/cases/{number}":         {Roles: roles(clerk, judge), Personal: true, Own: true, Reveal: true},
	"GET /v1/cases/{number}/verify":  {Roles: roles(clerk, judge, it)},
	"POST /v1/cases/{number}/export": {Roles: roles(judge), Personal: true, Own: true},
	"POST /v1/cases/{number}/codes":  {Roles: roles(judge), Personal: true, Own: true},
	"GET /v1/measures/expiring":      {Roles: roles(clerk, judge, director), Personal: true},
	"GET /v1/alerts/measures":        {Roles: roles(clerk, judge, director)},
	"GET /v1/alerts/funds":           {Roles: roles(judge, director)},

	// Transfers: the steps.
	"GET /v1/transfers":                             {Roles: everyone},
	"GET /v1/transfers/{id}":                        {Roles: everyone},
	"POST /v1/transfers":                            {Roles: roles(judge)},
	"POST /v1/transfers/start":                      {Roles: roles(superior)},
	"POST /v1/transfers/{id}/decide":                {Roles: roles(superior)},
	"GET /v1/transfers/{id}/recommendation":         {Roles: roles(superior)},
	"POST /v1/transfers/{id}/accept":                {Roles: roles(judge)},
	"POST /v1/transfers/{id}/reject":                {Roles: roles(judge, superior)},
	"POST /v1/transfers/{id}/withdraw":              {Roles: roles(judge)},
	"POST /v1/transfers/{id}/handover":              {Roles: roles(judge, director), Override: true},
	"POST /v1/transfers/{id}/supplement":            {Roles: roles(judge)},
	"POST /v1/transfers/{id}/return":                {Roles: roles(judge)},
	"POST /v1/transfers/{id}/progress":              {Roles: roles(judge)},
	"POST /v1/transfers/{id}/close":                 {Roles: roles(judge)},
	"POST /v1/transfers/{id}/conclude":              {Roles: roles(judge)},
	"POST /v1/transfers/{id}/grants/{court}/revoke": {Roles: roles(judge, director)},
	"POST /v1/transfers/{id}/fetch":                 {Roles: roles(clerk)},
	"GET /v1/transfers/{id}/fetch":                  {Roles: roles(clerk, judge)},
	"DELETE /v1/transfers/{id}/fetch":               {Roles: roles(clerk)},
	"GET /v1/transfers/{id}/evidence":               {Roles: roles(auditor, judge)},
	"GET /v1/jurisdiction":                          {Roles: everyone},

	// The modes beyond one case's move: 督促执行, 集中执行, 协同执行.
	"POST /v1/transfers/{id}/supervise":     {Roles: roles(superior)},
	"POST /v1/transfers/{id}/report":        {Roles: roles(judge, director)},
	"POST /v1/transfers/gather":             {Roles: roles(superior)},
	"GET /v1/transfers/{id}/same-debtor":    {Roles: roles(superior)},
	"POST /v1/transfers/assist":             {Roles: roles(judge)},
	"POST /v1/transfers/{id}/assist/answer": {Roles: roles(judge, director)},
	"POST /v1/transfers/{id}/assist/result": {Roles: roles(judge)},
	// The sealed request names what to do, where and against whom: the
	// judges of the two courts (the assisting court holds no case of that
	// number, so no assignment applies).
	"GET /v1/transfers/{id}/assistance": {Roles: roles(judge), Personal: true},

	// After the handover: assets, funds, sanctions, notices, items.
	"POST /v1/transfers/{id}/assets":                    {Roles: roles(clerk)},
	"GET /v1/transfers/{id}/assets":                     {Roles: roles(clerk, judge), Personal: true, Own: true},
	"GET /v1/transfers/{id}/measures":                   {Roles: roles(clerk, judge), Personal: true, Own: true},
	"POST /v1/transfers/{id}/funds":                     {Roles: roles(judge)},
	"GET /v1/transfers/{id}/funds":                      {Roles: roles(judge), Personal: true, Own: true},
	"GET /v1/transfers/{id}/funds/reconcile":            {Roles: roles(judge, director)},
	"GET /v1/transfers/{id}/sanctions":                  {Roles: roles(judge), Personal: true, Own: true},
	"POST /v1/transfers/{id}/sanctions":                 {Roles: roles(judge)},
	"GET /v1/transfers/{id}/notices":                    {Roles: roles(clerk, judge)},
	"POST /v1/transfers/{id}/notices/{measure}":         {Roles: roles(judge)},
	"GET /v1/transfers/{id}/notices/{measure}/document": {Roles: roles(judge), Personal: true, Own: true},
	"GET /v1/transfers/{id}/dossier-items":              {Roles: roles(clerk, judge)},
	"POST /v1/transfers/{id}/dossier-items":             {Roles: roles(clerk, judge)},

	// Supervision.
	"POST /v1/transfers/{id}/directives":                    {Roles: roles(superior)},
	"POST /v1/transfers/{id}/directives/{directive}/report": {Roles: roles(judge, director)},
	"POST /v1/spot-checks":                                  {Roles: roles(superior)},
	"POST /v1/transfers/{id}/reviews":                       {Roles: roles(superior)},
	"GET /v1/check-backs":                                   {Roles: roles(superior, director)},
	"GET /v1/transfers/{id}/reviews/{review}/verify":        {Roles: roles(superior, auditor)},
	"GET /v1/complaints":                                    {Roles: roles(superior, director)},
	"GET /v1/complaints/indicators":                         {Roles: roles(superior, director, operator)},
	"GET /v1/complaints/{id}":                               {Roles: roles(superior, director), Personal: true},
	"POST /v1/complaints/{id}/answer":                       {Roles: roles(superior, director)},
}

// PolicyDenied is the header a refusal by the policy carries (a handler's
// own 403, a court's permission, does not), so that a client and the
// table test can tell them apart.
const PolicyDenied = "X-Courtmesh-Policy"

// facts is what the policy reads of a request beyond its route.
type facts struct {
	cases    []string // the case numbers the request concerns ("" unknown)
	reveal   bool
	override bool
}

// Decide applies rule r of route to p with the request's facts: nil if p
// may, else court.ErrPermission naming what is missing.
func (r Rule) decide(route string, p Person, f facts) error {
	if p.Bootstrap {
		return nil
	}
	held := func(rs []court.StaffRole) bool { return slices.ContainsFunc(rs, p.Has) }
	if !held(r.Roles) {
		return court.Errorf(court.ErrPermission, "%s: %s may not (roles: %s); this needs one of: %s", route, p.Name, roleList(p.Roles), roleList(r.Roles))
	}
	owns := slices.ContainsFunc(f.cases, p.Owns)
	// Which roles hold here: a judge's only for own cases when Own.
	others := slices.DeleteFunc(slices.Clone(r.Roles), func(x court.StaffRole) bool { return x == judge })
	if r.Own && !held(others) && !owns {
		return court.Errorf(court.ErrPermission, "%s: %s is not the judge (承办法官) assigned to %s; ask IT or the 执行局长 to assign the case (`courtmesh user assign`)", route, p.Name, caseList(f.cases))
	}
	if r.Reveal && f.reveal && !(p.Has(judge) && owns) {
		return court.Errorf(court.ErrPermission, "%s: revealing personal data needs the judge (承办法官) assigned to %s; %s is not", route, caseList(f.cases), p.Name)
	}
	if r.Override && f.override && !p.Has(director) {
		return court.Errorf(court.ErrPermission, "%s: a handover overriding the 30-day guard needs the approval of the 执行局长; %s does not hold that role (the 执行局长 hands it over with the override)", route, p.Name)
	}
	return nil
}

func roleList(rs []court.StaffRole) string {
	if len(rs) == 0 {
		return "none"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func caseList(cs []string) string {
	cs = slices.DeleteFunc(slices.Clone(cs), func(s string) bool { return s == "" })
	if len(cs) == 0 {
		return "this case"
	}
	return strings.Join(cs, " / ")
}

// maxPeek bounds what the policy reads of a body to find override_reason
// (larger bodies are not handovers; the handler refuses them anyway).
const maxPeek = 1 << 20

// gather reads the facts of r for rule: the cases (path {number}, or the
// transfer {id}'s case numbers at this node) when the rule is Own or
// Reveal or the request is audited, ?reveal, and the body's
// override_reason (the body is put back for the handler).
func (s *Server) gather(rule Rule, r *http.Request) (facts, error) {
	var f facts
	if n := r.PathValue("number"); n != "" {
		if cn, err := court.ParseCaseNumber(n); err == nil {
			f.cases = []string{cn.String()}
		} else {
			f.cases = []string{n}
		}
	} else if id := r.PathValue("id"); id != "" && s.gate != nil && strings.HasPrefix(r.URL.Path, "/v1/transfers/") {
		if tid, err := court.ParseTransferID(id); err == nil {
			cs, err := s.gate.TransferCases(tid)
			if err != nil && court.KindOf(err) != court.ErrNotFound {
				return f, err
			}
			f.cases = cs
		}
	}
	f.reveal = rule.Reveal && r.URL.Query().Get("reveal") == "1"
	if rule.Override && r.Body != nil {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxPeek))
		if err != nil {
			return f, court.Errorf(court.ErrInvalid, "reading the request body: %v", err)
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), r.Body))
		var b struct {
			OverrideReason string `json:"override_reason"`
		}
		if json.Unmarshal(raw, &b) == nil && strings.TrimSpace(b.OverrideReason) != "" {
			f.override = true
		}
	}
	return f, nil
}

// guard wraps route's handler h in the policy.
func (s *Server) guard(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := PersonFrom(r.Context())
		if !ok { // ServeHTTP names a person for every request it lets in
			WriteError(w, Errorf(http.StatusUnauthorized, CodeUnauthorised, "no person for this request"))
			return
		}
		rule, known := Policy[route]
		acc := Access{Person: p, Route: route, Path: r.URL.Path, Transfer: r.PathValue("id")}
		if !strings.HasPrefix(route, "POST /v1/transfers/") && !strings.HasPrefix(route, "GET /v1/transfers/") && !strings.HasPrefix(route, "DELETE /v1/transfers/") {
			acc.Transfer = ""
		}
		var err error
		var f facts
		if !known && !p.Bootstrap {
			err = court.Errorf(court.ErrPermission, "%s has no entry in the access policy: only the bootstrap token may call it", route)
		} else if f, err = s.gather(rule, r); err == nil {
			err = rule.decide(route, p, f)
		}
		if len(f.cases) > 0 {
			acc.Case = f.cases[0]
		}
		if err != nil {
			if court.KindOf(err) == court.ErrPermission {
				acc.Outcome, acc.Reason = "refused", err.Error()
				s.auditAfter(acc)
				w.Header().Set(PolicyDenied, "denied")
				WriteError(w, Errorf(http.StatusForbidden, CodeForbidden, "%v", err))
				return
			}
			WriteError(w, err)
			return
		}
		audited := (r.Method != http.MethodGet && r.Method != http.MethodHead) || rule.Personal
		if !audited || s.gate == nil {
			h(w, r)
			return
		}
		acc.Outcome = "allowed"
		if err := s.gate.AuditBefore(acc); err != nil {
			WriteError(w, court.Errorf(court.ErrUnavailable, "%v", err))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		acc.Outcome = fmt.Sprintf("answered %d", sw.status())
		s.auditAfter(acc)
	}
}

func (s *Server) auditAfter(a Access) {
	if s.gate != nil {
		s.gate.AuditAfter(a) // counted and logged by the audit service
	}
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
