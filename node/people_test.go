package node

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage/gen"
)

// whoMay is the access table the policy must give, written here on its
// own (not read from api.Policy), by route: the roles, by their ASCII
// aliases, that may call it. "judge" is the judge to whom the sample
// case is assigned; "judge-other" a judge without it, who is refused
// where the route shows personal data of a case (own cases only). A
// route the server registers that is missing here fails the test, and
// so does one without a policy entry (refused to every role).
var whoMay = map[string]string{
	"GET /v1/status":                              "clerk judge judge-other director superior-judge it auditor operator",
	"GET /v1/peers":                               "clerk judge judge-other director superior-judge it auditor operator",
	"GET /v1/openapi.json":                        "clerk judge judge-other director superior-judge it auditor operator",
	"GET /v1/me":                                  "clerk judge judge-other director superior-judge it auditor operator",
	"POST /v1/trust/bundle":                       "it",
	"GET /v1/trust/log-head":                      "it auditor operator",
	"POST /v1/backup":                             "it",
	"GET /v1/users":                               "it",
	"POST /v1/users":                              "it",
	"POST /v1/users/{name}/disable":               "it",
	"POST /v1/users/{name}/tokens":                "it",
	"POST /v1/users/{name}/tokens/{token}/revoke": "it",
	"POST /v1/users/{name}/cases":                 "it director",
	"GET /v1/audit":                               "auditor",

	"GET /v1/mesh":          "operator it director superior-judge",
	"GET /v1/alerts":        "operator it director superior-judge judge judge-other clerk",
	"GET /v1/indicators":    "operator director superior-judge",
	"GET /dashboard":        "operator director superior-judge",
	"GET /v1/dashboard":     "operator director superior-judge",
	"GET /v1/metrics":       "operator it",
	"GET /dashboard/decide": "superior-judge",

	"POST /v1/cases/import":          "clerk",
	"GET /v1/cases":                  "clerk judge judge-other",
	"GET /v1/cases/{number}":         "clerk judge",
	"GET /v1/cases/{number}/verify":  "clerk judge judge-other it",
	"POST /v1/cases/{number}/export": "judge",
	"POST /v1/cases/{number}/codes":  "judge",
	"GET /v1/measures/expiring":      "clerk judge judge-other director",
	"GET /v1/alerts/measures":        "clerk judge judge-other director",
	"GET /v1/alerts/funds":           "judge judge-other director",

	"GET /v1/transfers":                             "clerk judge judge-other director superior-judge it auditor operator",
	"GET /v1/transfers/{id}":                        "clerk judge judge-other director superior-judge it auditor operator",
	"POST /v1/transfers":                            "judge judge-other",
	"POST /v1/transfers/start":                      "superior-judge",
	"POST /v1/transfers/{id}/decide":                "superior-judge",
	"GET /v1/transfers/{id}/recommendation":         "superior-judge",
	"POST /v1/transfers/{id}/accept":                "judge judge-other",
	"POST /v1/transfers/{id}/reject":                "judge judge-other superior-judge",
	"POST /v1/transfers/{id}/withdraw":              "judge judge-other",
	"POST /v1/transfers/{id}/handover":              "judge judge-other director",
	"POST /v1/transfers/{id}/supplement":            "judge judge-other",
	"POST /v1/transfers/{id}/return":                "judge judge-other",
	"POST /v1/transfers/{id}/progress":              "judge judge-other",
	"POST /v1/transfers/{id}/close":                 "judge judge-other",
	"POST /v1/transfers/{id}/conclude":              "judge judge-other",
	"POST /v1/transfers/{id}/grants/{court}/revoke": "judge judge-other director",
	"POST /v1/transfers/{id}/fetch":                 "clerk",
	"GET /v1/transfers/{id}/fetch":                  "clerk judge judge-other",
	"DELETE /v1/transfers/{id}/fetch":               "clerk",
	"GET /v1/transfers/{id}/evidence":               "auditor judge judge-other",
	"GET /v1/jurisdiction":                          "clerk judge judge-other director superior-judge it auditor operator",

	"POST /v1/transfers/{id}/supervise":     "superior-judge",
	"POST /v1/transfers/{id}/report":        "judge judge-other director",
	"POST /v1/transfers/gather":             "superior-judge",
	"GET /v1/transfers/{id}/same-debtor":    "superior-judge",
	"POST /v1/transfers/assist":             "judge judge-other",
	"POST /v1/transfers/{id}/assist/answer": "judge judge-other director",
	"POST /v1/transfers/{id}/assist/result": "judge judge-other",
	"GET /v1/transfers/{id}/assistance":     "judge judge-other",

	"POST /v1/transfers/{id}/assets":                    "clerk",
	"GET /v1/transfers/{id}/assets":                     "clerk judge",
	"GET /v1/transfers/{id}/measures":                   "clerk judge",
	"POST /v1/transfers/{id}/funds":                     "judge judge-other",
	"GET /v1/transfers/{id}/funds":                      "judge",
	"GET /v1/transfers/{id}/funds/reconcile":            "judge judge-other director",
	"GET /v1/transfers/{id}/sanctions":                  "judge",
	"POST /v1/transfers/{id}/sanctions":                 "judge judge-other",
	"GET /v1/transfers/{id}/notices":                    "clerk judge judge-other",
	"POST /v1/transfers/{id}/notices/{measure}":         "judge judge-other",
	"GET /v1/transfers/{id}/notices/{measure}/document": "judge",
	"GET /v1/transfers/{id}/dossier-items":              "clerk judge judge-other",
	"POST /v1/transfers/{id}/dossier-items":             "clerk judge judge-other",

	"POST /v1/transfers/{id}/directives":                    "superior-judge",
	"POST /v1/transfers/{id}/directives/{directive}/report": "judge judge-other director",
	"POST /v1/spot-checks":                                  "superior-judge",
	"POST /v1/transfers/{id}/reviews":                       "superior-judge",
	"GET /v1/check-backs":                                   "superior-judge director",
	"GET /v1/transfers/{id}/reviews/{review}/verify":        "superior-judge auditor",
	"GET /v1/complaints":                                    "superior-judge director",
	"GET /v1/complaints/indicators":                         "superior-judge director operator",
	"GET /v1/complaints/{id}":                               "superior-judge director",
	"POST /v1/complaints/{id}/answer":                       "superior-judge director",
}

// principals are the callers of the table: one account per role, and a
// second judge to whom the sample case is not assigned.
var principals = []struct{ alias, role string }{
	{"clerk", "书记员"}, {"judge", "承办法官"}, {"judge-other", "承办法官"}, {"director", "执行局长"},
	{"superior-judge", "上级法院审判员"}, {"it", "IT"}, {"auditor", "审计"}, {"operator", "operator"},
}

// TestEveryRouteEveryRole calls every route of a live node (the routes
// the server registers, which must be the routes openapi.json
// documents) as every role, and checks that the one policy refuses
// exactly the calls the table above does not allow: a refusal is 403
// with the policy's header; an allowed call is anything else (the empty
// bodies the calls send change nothing). It then checks the bootstrap
// token is refused nothing, that revealing personal data and an override
// of the 30-day guard need what the law asks, and that the audit log
// names the person of each action and refusal.
//
// It is long on purpose: one story on one live node, every route as
// every role first, then the checks that follow on the same node and
// audit log.
func TestEveryRouteEveryRole(t *testing.T) {
	m := nodetest.NewTrustMesh(t)
	dir := m.Dirs[3] // 京0105
	n := serveNode(t, dir)
	tok, err := dir.Token()
	if err != nil {
		t.Fatal(err)
	}
	o := &oaNode{n: n, token: tok, hc: &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", dir.Path(datadir.SocketFile))
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	t.Cleanup(o.hc.CloseIdleConnections)
	jsonOf := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	must := func(status int, method, path, token string, body any, out any) {
		t.Helper()
		var b []byte
		ctype := ""
		if body != nil {
			b, ctype = jsonOf(body), "application/json"
		}
		resp, got := o.do(t, method, path, token, ctype, b)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d %s; want %d", method, path, resp.StatusCode, got, status)
		}
		if out != nil {
			if err := json.Unmarshal(got, out); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A case, offered: the {number} and {id} of the calls.
	cs, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 3, Court: "京0105"})
	if err != nil {
		t.Fatal(err)
	}
	var imported api.ImportResult
	must(201, "POST", "/v1/cases/import", tok, api.ImportRequest{Path: cs[0].Dir}, &imported)
	var tr api.Transfer
	must(200, "POST", "/v1/transfers", tok, api.OfferRequest{CaseNumber: imported.Case, Superior: "京01", Grounds: []string{"long_unexecuted"}}, &tr)

	// IT's work, done with the bootstrap token: an account per role.
	tokens := map[string]string{}
	for _, p := range principals {
		var u api.UserInfo
		must(201, "POST", "/v1/users", tok, api.UserRequest{Name: p.alias, DisplayName: "测试" + p.alias, Roles: []string{p.role}}, &u)
		var it api.IssuedToken
		must(201, "POST", "/v1/users/"+p.alias+"/tokens", tok, api.TokenRequest{ExpiresInDays: 7}, &it)
		if !strings.HasPrefix(it.Token, api.PersonalTokenPrefix) {
			t.Fatalf("token %q", it.Token)
		}
		tokens[p.alias] = it.Token
	}
	must(200, "POST", "/v1/users/judge/cases", tok, api.CasesRequest{Cases: []string{imported.Case}}, nil)
	var me api.Person
	must(200, "GET", "/v1/me", tokens["judge"], nil, &me)
	if me.Name != "judge" || !slices.Equal(me.Cases, []string{imported.Case}) || !me.Has(court.RoleJudge) {
		t.Fatalf("GET /v1/me as the judge: %+v", me)
	}

	// The routes: those registered, which are those documented.
	routes := n.api.Routes()
	d := loadOpenAPI(t, api.OpenAPI)
	var documented []string
	for path, ops := range d.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	sorted := slices.Sorted(slices.Values(routes))
	if !slices.Equal(sorted, documented) {
		t.Fatalf("the routes registered %v are not the routes documented %v", sorted, documented)
	}
	for r := range whoMay {
		if !slices.Contains(routes, r) {
			t.Errorf("the table names %q, which the server does not route", r)
		}
	}

	caseNo := url.PathEscape(imported.Case)
	concrete := func(route string) (method, path string) {
		method, path, _ = strings.Cut(route, " ")
		path = oaParam.ReplaceAllStringFunc(path, func(p string) string {
			switch p {
			case "{id}":
				if strings.HasPrefix(path, "/v1/complaints/") {
					return "0123456789abcdef0123456789abcdef"
				}
				return string(tr.ID)
			case "{number}":
				return caseNo
			case "{court}":
				return url.PathEscape("京0108")
			case "{measure}":
				return "m1"
			case "{directive}", "{review}":
				return strings.Repeat("ab", 32)
			case "{name}":
				return "nobody"
			case "{token}":
				return "0123456789abcdef"
			}
			t.Fatalf("%s: no sample value for %s", route, p)
			return ""
		})
		return method, path
	}
	denied := func(resp *http.Response) bool {
		return resp.StatusCode == http.StatusForbidden && resp.Header.Get(api.PolicyDenied) == "denied"
	}
	calls, refusals := 0, 0
	for _, route := range sorted {
		allowed, ok := whoMay[route]
		if !ok {
			t.Errorf("%s: not in the table of this test; say who may call it (and give it a policy entry in node/api/policy.go)", route)
			continue
		}
		method, path := concrete(route)
		ctype := ""
		if op := d.Paths[strings.SplitN(route, " ", 2)[1]][strings.ToLower(method)]; op != nil && op.RequestBody != nil {
			ctype = "application/json"
		}
		for _, p := range principals {
			want := slices.Contains(strings.Fields(allowed), p.alias)
			resp, b := o.do(t, method, path, tokens[p.alias], ctype, nil)
			calls++
			if muxMiss(resp) {
				t.Errorf("%s as %s: not routed (%d)", route, p.alias, resp.StatusCode)
				continue
			}
			switch got := !denied(resp); {
			case got && !want:
				t.Errorf("%s as %s (%s): answered %d %s; the policy must refuse it", route, p.alias, p.role, resp.StatusCode, strings.TrimSpace(string(b)))
			case !got && want:
				t.Errorf("%s as %s (%s): refused by the policy (%s); the table allows it", route, p.alias, p.role, strings.TrimSpace(string(b)))
			case !got:
				refusals++
				var eb struct{ Error api.Error }
				if json.Unmarshal(b, &eb) != nil || eb.Error.Code != api.CodeForbidden || !strings.Contains(eb.Error.Message, p.alias) {
					t.Errorf("%s as %s: refusal %s; want the forbidden code and a message naming the person", route, p.alias, b)
				}
			}
		}
		// The bootstrap token (the CMS, the command line) is refused nothing.
		if resp, _ := o.do(t, method, path, tok, ctype, nil); denied(resp) {
			t.Errorf("%s with the bootstrap token: refused by the policy", route)
		}
	}
	t.Logf("%d routes x %d principals: %d calls, %d refused by the policy", len(sorted), len(principals), calls, refusals)

	// Revealing personal data: only the judge the case is assigned to.
	reveal := "/v1/cases/" + caseNo + "?reveal=1&purpose=" + url.QueryEscape("执行审查")
	for alias, want := range map[string]bool{"judge": true, "clerk": false, "judge-other": false} {
		resp, b := o.do(t, "GET", reveal, tokens[alias], "", nil)
		if denied(resp) == want {
			t.Errorf("reveal as %s: %d %s; allowed = %v wanted", alias, resp.StatusCode, b, want)
		}
	}
	// An override of the 30-day guard needs the 执行局长: a judge is
	// refused by the policy, the director reaches the workflow (which
	// refuses a handover of a transfer only offered).
	override := jsonOf(api.HandoverRequest{OverrideReason: "续行裁定已送达"})
	if resp, b := o.do(t, "POST", "/v1/transfers/"+string(tr.ID)+"/handover", tokens["judge"], "application/json", override); !denied(resp) {
		t.Errorf("override as a judge: %d %s; the policy must refuse it", resp.StatusCode, b)
	}
	if resp, b := o.do(t, "POST", "/v1/transfers/"+string(tr.ID)+"/handover", tokens["director"], "application/json", override); denied(resp) || resp.StatusCode < 400 {
		t.Errorf("override as the director: %d %s; want the workflow's refusal (offered, not accepted)", resp.StatusCode, b)
	}

	// A disabled account and a revoked token stop at once.
	must(200, "POST", "/v1/users/operator/disable", tok, nil, nil)
	if resp, _ := o.do(t, "GET", "/v1/status", tokens["operator"], "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a disabled account's token: %d, want 401", resp.StatusCode)
	}
	var users []api.UserInfo
	must(200, "GET", "/v1/users", tok, nil, &users)
	for _, u := range users {
		if u.Name == "auditor" {
			must(200, "POST", "/v1/users/auditor/tokens/"+u.Tokens[0].ID+"/revoke", tok, nil, nil)
		}
	}
	if resp, _ := o.do(t, "GET", "/v1/status", tokens["auditor"], "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", resp.StatusCode)
	}

	// The audit log names the person of each action and refusal.
	entries, err := n.Store().AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	byPerson := map[string]map[string]int{}
	for _, e := range entries {
		if byPerson[e.Person] == nil {
			byPerson[e.Person] = map[string]int{}
		}
		byPerson[e.Person][e.Event]++
		if strings.Contains(e.Detail, api.PersonalTokenPrefix) {
			t.Errorf("audit entry %d holds a token: %s", e.Seq, e.Detail)
		}
	}
	for _, p := range principals {
		if byPerson["user:"+p.alias]["api.refused"] == 0 {
			t.Errorf("no api.refused entry names user:%s: %v", p.alias, byPerson["user:"+p.alias])
		}
	}
	if byPerson["user:clerk"]["api.request"] == 0 || byPerson["user:judge"]["api.request"] == 0 {
		t.Errorf("the clerk's and judge's actions are not audited with them: %v", byPerson)
	}
	if byPerson["api-token"]["user.added"] != len(principals) || byPerson["api-token"]["user.token_issued"] != len(principals) {
		t.Errorf("the accounts' creation is not audited with who did it: %v", byPerson["api-token"])
	}
}
