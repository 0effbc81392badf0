package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// apiConn is raw HTTP access to one node's local API over its Unix
// socket: requests go out exactly as written, headers included.
type apiConn struct {
	code  court.CourtCode
	token string
	hc    *http.Client
}

func (s *scenario) conn(t *testing.T, code court.CourtCode) *apiConn {
	t.Helper()
	for i, c := range s.tm.Courts {
		if c.Code != code {
			continue
		}
		d := s.tm.Dirs[i]
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Path(datadir.SocketFile))
		}}}
		t.Cleanup(hc.CloseIdleConnections)
		return &apiConn{code: code, token: tok, hc: hc}
	}
	t.Fatalf("no court %s", code)
	return nil
}

// send sends a request with the given Authorization header ("" for
// none) and returns the status and body.
func (c *apiConn) send(t *testing.T, method, path, auth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://courtmesh"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, c.code, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// meshState is everything a refused request could have changed, on
// every node: the store's keys, each transfer's state and records, the
// log heads and the audit log's length (but for the access policy's
// own entries of each request: api.request, api.refused).
type meshState map[court.CourtCode]nodeState

type nodeState struct {
	keys      []string
	transfers []string
	heads     map[court.PeerID]uint64
	audit     uint64
}

func (s *scenario) state(t *testing.T) meshState {
	t.Helper()
	out := meshState{}
	for i, n := range s.tm.nodes {
		var st nodeState
		var err error
		if st.keys, err = n.Store().Keys(); err != nil {
			t.Fatal(err)
		}
		// The access policy writes every request it lets through (the
		// attempt is evidence, refused or not): its entries are counted
		// apart from the rooms' (below), and the audit keys with them.
		st.keys = slices.DeleteFunc(st.keys, func(k string) bool { return strings.HasPrefix(k, "au/") || k == "meta/audit-head" })
		ts, err := listAll(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range ts {
			st.transfers = append(st.transfers, fmt.Sprintf("%s %s %d records, receiver %q, new case %q", tr.ID, tr.State, len(tr.Records), tr.Receiver, tr.NewCaseNumber))
		}
		sort.Strings(st.transfers)
		if st.heads, err = n.Store().LogHeads(); err != nil {
			t.Fatal(err)
		}
		entries, err := n.Store().AuditEntries(1, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Event != "api.request" && e.Event != "api.refused" {
				st.audit++
			}
		}
		out[s.tm.Courts[i].Code] = st
	}
	return out
}

// diff describes how b differs from a ("" if it does not).
func (a meshState) diff(b meshState) string {
	var out []string
	for code, x := range a {
		y := b[code]
		if !slices.Equal(x.transfers, y.transfers) {
			out = append(out, fmt.Sprintf("%s: transfers %v -> %v", code, x.transfers, y.transfers))
		}
		if fmt.Sprint(x.heads) != fmt.Sprint(y.heads) {
			out = append(out, fmt.Sprintf("%s: log heads %v -> %v", code, x.heads, y.heads))
		}
		if x.audit != y.audit {
			out = append(out, fmt.Sprintf("%s: audit log %d -> %d entries", code, x.audit, y.audit))
		}
		if !slices.Equal(x.keys, y.keys) {
			var added, removed []string
			for _, k := range y.keys {
				if !slices.Contains(x.keys, k) {
					added = append(added, k)
				}
			}
			for _, k := range x.keys {
				if !slices.Contains(y.keys, k) {
					removed = append(removed, k)
				}
			}
			out = append(out, fmt.Sprintf("%s: store keys added %q, removed %q", code, added, removed))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestTransferAPIRefusals sends malformed and unauthorised requests to
// the transfer and fetch endpoints of running nodes. Each gets a 4xx JSON
// error with a stable code and a message that names the problem, never
// the token; and no node's store, transfers, logs or audit log change.
// Every field the OpenAPI document marks required in a transfer request
// is left out by one of the cases, so the document's required lists are
// checked against what the server refuses.
//
// It is long on purpose: one table of every refusal the transfer routes
// answer.
func TestTransferAPIRefusals(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 12)
	if len(safe) < 3 {
		t.Fatalf("the generator made %d cases without a near-expiry measure; want 3", len(safe))
	}
	// t1 is decided (京01 designated 京0108), t2 is offered.
	t1 := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}})).ID
	t2 := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[1].String(), Superior: "京01", Grounds: []string{"capacity"}})).ID
	s.expectEverywhere(t2, cmproto.StateOffered)
	s.expectEverywhere(t1, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(ctx, t1, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监31号"}))
	s.expectEverywhere(t1, cmproto.StateDecided)

	origin, decider, receiver := s.conn(t, "京0105"), s.conn(t, "京01"), s.conn(t, "京0108")
	unknown := court.NewTransferID()
	free := safe[2].String() // a case of 京0105 in no transfer
	tp := func(id court.TransferID, action string) string {
		if action == "" {
			return "/v1/transfers/" + string(id)
		}
		return "/v1/transfers/" + string(id) + "/" + action
	}
	j := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	big := j(api.ReasonRequest{Reason: strings.Repeat("理由", api.MaxCaseRequestBody/3)}) // > 64 KiB
	offer := func(fields string) []byte { return []byte("{" + fields + "}") }
	validOffer := `"case_number": "` + free + `", "superior": "京01", "grounds": ["long_unexecuted"]`

	type tcase struct {
		name   string
		c      *apiConn
		method string
		path   string
		auth   string // "" the right bearer token; "-" none; else the header as sent
		body   []byte
		status int
		code   string
		msg    []string // substrings of the message
		omits  string   // Schema.field a required-field case leaves out
	}
	cases := []tcase{
		// Authentication.
		{name: "no token", c: origin, method: "POST", path: "/v1/transfers", auth: "-", body: offer(validOffer), status: 401, code: api.CodeUnauthorised, msg: []string{"api.token"}},
		{name: "wrong token", c: decider, method: "POST", path: tp(t2, "decide"), auth: "Bearer 0000-not-the-token-0000", body: j(api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监32号"}), status: 401, code: api.CodeUnauthorised, msg: []string{"bearer token"}},
		{name: "token of another node", c: origin, method: "POST", path: tp(t1, "withdraw"), auth: "Bearer " + receiver.token, body: j(api.ReasonRequest{Reason: "x"}), status: 401, code: api.CodeUnauthorised, msg: []string{"bearer token"}},
		{name: "token as Basic", c: origin, method: "POST", path: "/v1/transfers", auth: "Basic " + origin.token, body: offer(validOffer), status: 401, code: api.CodeUnauthorised, msg: []string{"bearer token"}},
		{name: "token in the query", c: origin, method: "POST", path: "/v1/transfers?token=" + url.QueryEscape(origin.token), auth: "-", body: offer(validOffer), status: 401, code: api.CodeUnauthorised, msg: []string{"bearer token"}},
		{name: "no token on fetch", c: receiver, method: "POST", path: tp(t1, "fetch"), auth: "-", status: 401, code: api.CodeUnauthorised, msg: []string{"api.token"}},

		// Bodies that do not decode.
		{name: "bad JSON", c: origin, method: "POST", path: "/v1/transfers", body: offer(validOffer + ","), status: 400, code: api.CodeInvalid, msg: []string{"not valid JSON"}},
		{name: "truncated JSON", c: origin, method: "POST", path: "/v1/transfers", body: []byte(`{"case_number": "（2024`), status: 400, code: api.CodeInvalid, msg: []string{"ends early"}},
		{name: "empty body", c: origin, method: "POST", path: "/v1/transfers", body: []byte{}, status: 400, code: api.CodeInvalid, msg: []string{"empty", "case_number", "superior", "grounds"}},
		{name: "empty body on accept", c: receiver, method: "POST", path: tp(t1, "accept"), body: []byte{}, status: 400, code: api.CodeInvalid, msg: []string{"empty", "new_case_number"}},
		{name: "unknown field", c: origin, method: "POST", path: "/v1/transfers", body: offer(validOffer + `, "priority": "high"`), status: 400, code: api.CodeInvalid, msg: []string{`unknown field "priority"`, "superior"}},
		{name: "unknown field on decide", c: decider, method: "POST", path: tp(t2, "decide"), body: []byte(`{"mode": "designated", "receiver": "京0108", "decision_number": "（2026）京01执监33号", "to": "京0108"}`), status: 400, code: api.CodeInvalid, msg: []string{`unknown field "to"`}},
		{name: "wrong type: grounds", c: origin, method: "POST", path: "/v1/transfers", body: offer(`"case_number": "` + free + `", "superior": "京01", "grounds": "long_unexecuted"`), status: 400, code: api.CodeInvalid, msg: []string{`field "grounds": want an array`}},
		{name: "wrong type: amount", c: origin, method: "POST", path: "/v1/transfers", body: offer(validOffer + `, "amount_recovered_fen": "100"`), status: 400, code: api.CodeInvalid, msg: []string{`field "amount_recovered_fen": want a number`}},
		{name: "wrong type: progress amount", c: receiver, method: "POST", path: tp(t1, "progress"), body: []byte(`{"amount_recovered_fen": 1.5}`), status: 400, code: api.CodeInvalid, msg: []string{`field "amount_recovered_fen"`}},
		{name: "not an object", c: decider, method: "POST", path: tp(t2, "reject"), body: []byte(`["no"]`), status: 400, code: api.CodeInvalid, msg: []string{"want a JSON object"}},
		{name: "trailing data", c: decider, method: "POST", path: tp(t2, "reject"), body: []byte(`{"reason": "重复"} {"reason": "again"}`), status: 400, code: api.CodeInvalid, msg: []string{"extra data"}},
		{name: "oversized body", c: origin, method: "POST", path: tp(t2, "withdraw"), body: big, status: 413, code: api.CodeTooLarge, msg: []string{"larger than 65536 bytes"}},
		{name: "oversized body on revoke", c: origin, method: "POST", path: tp(t1, "grants/"+url.PathEscape("京0108")+"/revoke"), body: big, status: 413, code: api.CodeTooLarge, msg: []string{"larger than"}},

		// List filters.
		{name: "unknown list state", c: origin, method: "GET", path: "/v1/transfers?state=pending", status: 400, code: api.CodeInvalid, msg: []string{`state "pending"`, "handed_over"}},
		{name: "misspelt list filter", c: origin, method: "GET", path: "/v1/transfers?stat=offered", status: 400, code: api.CodeInvalid, msg: []string{`unknown query parameter "stat"`}},
		{name: "bad overdue value", c: origin, method: "GET", path: "/v1/transfers?overdue=yes", status: 400, code: api.CodeInvalid, msg: []string{`overdue "yes"`}},
		{name: "list filter twice", c: origin, method: "GET", path: "/v1/transfers?state=offered&state=decided", status: 400, code: api.CodeInvalid, msg: []string{`"state" given 2 times`}},

		// Paths.
		{name: "transfer id too short", c: origin, method: "GET", path: tp("abc123", ""), status: 400, code: api.CodeInvalid, msg: []string{"abc123", "32 hex digits"}},
		{name: "transfer id not hex", c: decider, method: "POST", path: tp(court.TransferID(strings.Repeat("z", 32)), "decide"), body: j(api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "x"}), status: 400, code: api.CodeInvalid, msg: []string{"32 hex digits"}},
		{name: "bad transfer id on fetch", c: receiver, method: "POST", path: tp("not-a-transfer", "fetch"), status: 400, code: api.CodeInvalid, msg: []string{"not-a-transfer", "32 hex digits"}},
		{name: "unknown transfer", c: origin, method: "GET", path: tp(unknown, ""), status: 404, code: api.CodeNotFound, msg: []string{string(unknown)}},
		{name: "unknown transfer handover", c: origin, method: "POST", path: tp(unknown, "handover"), body: []byte(`{}`), status: 404, code: api.CodeNotFound, msg: []string{string(unknown)}},
		{name: "unknown transfer decide", c: decider, method: "POST", path: tp(unknown, "decide"), body: j(api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监34号"}), status: 409, code: api.CodeConflict, msg: []string{string(unknown), "unknown transfer"}},
		{name: "unknown transfer fetch", c: receiver, method: "POST", path: tp(unknown, "fetch"), status: 404, code: api.CodeNotFound, msg: []string{string(unknown)}},
		{name: "no fetch to show", c: receiver, method: "GET", path: tp(t1, "fetch"), status: 404, code: api.CodeNotFound, msg: []string{"no fetch", string(t1)}},
		{name: "no fetch to cancel", c: receiver, method: "DELETE", path: tp(t1, "fetch"), status: 404, code: api.CodeNotFound, msg: []string{"no fetch", string(t1)}},
		{name: "bad court code in revoke path", c: origin, method: "POST", path: tp(t1, "grants/"+url.PathEscape("京0108X")+"/revoke"), body: j(api.ReasonRequest{Reason: "x"}), status: 400, code: api.CodeInvalid, msg: []string{"京0108X"}},

		// Values the workflow refuses.
		{name: "bad mode", c: decider, method: "POST", path: tp(t2, "decide"), body: j(api.DecideRequest{Mode: "sideways", Receiver: "京0108", DecisionNumber: "（2026）京01执监35号"}), status: 422, code: api.CodeInvalid, msg: []string{`mode "sideways"`, "designated", "elevated"}},
		{name: "bad court code: superior", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: free, Superior: "Beijing", Grounds: []string{"capacity"}}), status: 422, code: api.CodeInvalid, msg: []string{"superior", "Beijing"}},
		{name: "bad court code: receiver", c: decider, method: "POST", path: tp(t2, "decide"), body: j(api.DecideRequest{Mode: "designated", Receiver: "京01089", DecisionNumber: "（2026）京01执监36号"}), status: 422, code: api.CodeInvalid, msg: []string{"receiver court"}},
		{name: "superior not superior", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: free, Superior: "京0108", Grounds: []string{"capacity"}}), status: 422, code: api.CodeInvalid, msg: []string{"京0108 is not a superior court of 京0105"}},
		{name: "bad case number", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: "2024京0105执1号", Superior: "京01", Grounds: []string{"capacity"}}), status: 422, code: api.CodeInvalid, msg: []string{"case_number", "2024京0105执1号"}},
		{name: "case of another court", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: "（2024）京0108执1号", Superior: "京01", Grounds: []string{"capacity"}}), status: 422, code: api.CodeInvalid, msg: []string{"belongs to 京0108"}},
		{name: "case not in the store", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: "（2024）京0105执999999号", Superior: "京01", Grounds: []string{"capacity"}}), status: 404, code: api.CodeNotFound, msg: []string{"（2024）京0105执999999号"}},
		{name: "case already offered", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: safe[1].String(), Superior: "京01", Grounds: []string{"capacity"}}), status: 409, code: api.CodeConflict, msg: []string{"already offered", string(t2)}},
		{name: "unknown ground", c: origin, method: "POST", path: "/v1/transfers", body: j(api.OfferRequest{CaseNumber: free, Superior: "京01", Grounds: []string{"boredom"}}), status: 422, code: api.CodeInvalid, msg: []string{`ground "boredom"`}},
		{name: "bad accept-by date", c: decider, method: "POST", path: tp(t2, "decide"), body: j(api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监37号", AcceptBy: "2026-02-30"}), status: 422, code: api.CodeInvalid, msg: []string{"accept by"}},
		{name: "decided by a court the offer did not ask (and no superior)", c: receiver, method: "POST", path: tp(t2, "decide"), body: j(api.DecideRequest{Mode: "designated", Receiver: "京0102", DecisionNumber: "（2026）京0108执监1号"}), status: 422, code: api.CodeInvalid, msg: []string{"the offer asked 京01 to decide"}},
		{name: "new case number of another court", c: receiver, method: "POST", path: tp(t1, "accept"), body: j(api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0105", court.TypeEnforcement, 1201)}), status: 422, code: api.CodeInvalid, msg: []string{"new case number", "belongs to 京0105"}},
		{name: "handover before acceptance", c: origin, method: "POST", path: tp(t1, "handover"), body: []byte(`{}`), status: 409, code: api.CodeConflict, msg: []string{string(t1), "decided", "acceptance"}},
		{name: "negative progress amount", c: receiver, method: "POST", path: tp(t1, "progress"), body: j(api.ProgressRequest{AmountRecoveredFen: -5}), status: 422, code: api.CodeInvalid, msg: []string{"amount recovered -5"}},
		{name: "bad close outcome", c: receiver, method: "POST", path: tp(t1, "close"), body: j(api.CloseRequest{Outcome: "won"}), status: 422, code: api.CodeInvalid, msg: []string{`outcome "won"`, "concluded"}},

		// Required fields left out.
		{name: "directive without court", omits: "DirectiveRequest.court", c: decider, method: "POST", path: tp(t1, "directives"), body: []byte(`{"instruction": "请报告", "due": "2099-01-01"}`), status: 422, code: api.CodeInvalid, msg: []string{"court"}},
		{name: "directive without instruction", omits: "DirectiveRequest.instruction", c: decider, method: "POST", path: tp(t1, "directives"), body: []byte(`{"court": "京0108", "due": "2099-01-01"}`), status: 422, code: api.CodeInvalid, msg: []string{"instruction is required"}},
		{name: "directive without due", omits: "DirectiveRequest.due", c: decider, method: "POST", path: tp(t1, "directives"), body: []byte(`{"court": "京0108", "instruction": "请报告"}`), status: 422, code: api.CodeInvalid, msg: []string{"due"}},
		{name: "directive by a court not superior", c: origin, method: "POST", path: tp(t1, "directives"), body: []byte(`{"court": "京0108", "instruction": "请报告", "due": "2099-01-01"}`), status: 403, code: api.CodeForbidden, msg: []string{"not a superior court"}},
		{name: "report without report", omits: "DirectiveReportRequest.report", c: receiver, method: "POST", path: tp(t1, "directives/"+strings.Repeat("ab", 32)+"/report"), body: []byte(`{}`), status: 422, code: api.CodeInvalid, msg: []string{"report is required"}},
		{name: "report on no directive", c: receiver, method: "POST", path: tp(t1, "directives/"+strings.Repeat("ab", 32)+"/report"), body: []byte(`{"report": "已办理"}`), status: 404, code: api.CodeNotFound, msg: []string{"no directive"}},
		{name: "review without finding", omits: "ReviewRequest.finding", c: decider, method: "POST", path: tp(t1, "reviews"), body: []byte(`{"note": "抽查"}`), status: 422, code: api.CodeInvalid, msg: []string{"finding"}},
		{name: "start without case_number", omits: "StartRequest.case_number", c: decider, method: "POST", path: "/v1/transfers/start", body: []byte(`{"origin": "京0105", "grounds": ["capacity"]}`), status: 422, code: api.CodeInvalid, msg: []string{"case_number is required"}},
		{name: "start without origin", omits: "StartRequest.origin", c: decider, method: "POST", path: "/v1/transfers/start", body: []byte(`{"case_number": "（2024）京0105执1号", "grounds": ["capacity"]}`), status: 422, code: api.CodeInvalid, msg: []string{"origin is required"}},
		{name: "start without grounds", omits: "StartRequest.grounds", c: decider, method: "POST", path: "/v1/transfers/start", body: []byte(`{"case_number": "（2024）京0105执1号", "origin": "京0105"}`), status: 422, code: api.CodeInvalid, msg: []string{"grounds is required"}},
		{name: "return without missing", omits: "ReturnRequest.missing", c: receiver, method: "POST", path: tp(t1, "return"), body: []byte(`{"note": "缺件"}`), status: 422, code: api.CodeInvalid, msg: []string{"missing is required"}},
		{name: "conclude without kind", omits: "ConcludeRequest.kind", c: receiver, method: "POST", path: tp(t1, "conclude"), body: []byte(`{"amount_recovered_fen": 0}`), status: 422, code: api.CodeInvalid, msg: []string{"kind is required"}},
		{name: "offer without case_number", omits: "OfferRequest.case_number", c: origin, method: "POST", path: "/v1/transfers", body: []byte(`{"superior": "京01", "grounds": ["capacity"]}`), status: 422, code: api.CodeInvalid, msg: []string{"case_number"}},
		{name: "offer without superior", omits: "OfferRequest.superior", c: origin, method: "POST", path: "/v1/transfers", body: offer(`"case_number": "` + free + `", "grounds": ["capacity"]`), status: 422, code: api.CodeInvalid, msg: []string{"superior"}},
		{name: "offer without grounds", omits: "OfferRequest.grounds", c: origin, method: "POST", path: "/v1/transfers", body: offer(`"case_number": "` + free + `", "superior": "京01"`), status: 422, code: api.CodeInvalid, msg: []string{"at least one ground"}},
		{name: "decide without mode", omits: "DecideRequest.mode", c: decider, method: "POST", path: tp(t2, "decide"), body: []byte(`{"receiver": "京0108", "decision_number": "（2026）京01执监38号"}`), status: 422, code: api.CodeInvalid, msg: []string{`mode ""`}},
		{name: "decide without decision_number", omits: "DecideRequest.decision_number", c: decider, method: "POST", path: tp(t2, "decide"), body: []byte(`{"mode": "designated", "receiver": "京0108"}`), status: 422, code: api.CodeInvalid, msg: []string{"decision number is required"}},
		{name: "accept without new_case_number", omits: "AcceptRequest.new_case_number", c: receiver, method: "POST", path: tp(t1, "accept"), body: []byte(`{}`), status: 422, code: api.CodeInvalid, msg: []string{"new case number"}},
		{name: "reject without reason", omits: "ReasonRequest.reason", c: decider, method: "POST", path: tp(t2, "reject"), body: []byte(`{}`), status: 422, code: api.CodeInvalid, msg: []string{"reason is required"}},
		{name: "withdraw without reason", omits: "ReasonRequest.reason", c: origin, method: "POST", path: tp(t2, "withdraw"), body: []byte(`{}`), status: 422, code: api.CodeInvalid, msg: []string{"reason is required"}},
		{name: "close without outcome", omits: "CloseRequest.outcome", c: receiver, method: "POST", path: tp(t1, "close"), body: []byte(`{"amount_recovered_fen": 100}`), status: 422, code: api.CodeInvalid, msg: []string{`outcome ""`}},
		// the modes (督促, 协同, 集中)
		{name: "supervise without decision_number", omits: "SuperviseRequest.decision_number", c: decider, method: "POST", path: tp(t2, "supervise"), body: []byte(`{"enforce_by": "2099-01-01"}`), status: 422, code: api.CodeInvalid, msg: []string{"decision_number is required"}},
		{name: "supervise without enforce_by", omits: "SuperviseRequest.enforce_by", c: decider, method: "POST", path: tp(t2, "supervise"), body: []byte(`{"decision_number": "（2026）京01执督1号"}`), status: 422, code: api.CodeInvalid, msg: []string{"enforce_by is required"}},
		{name: "report without status", omits: "SupervisionReportRequest.status", c: origin, method: "POST", path: tp(t1, "report"), body: []byte(`{"amount_recovered_fen": 5}`), status: 422, code: api.CodeInvalid, msg: []string{"status is required"}},
		{name: "assist without case_number", omits: "AssistRequest.case_number", c: origin, method: "POST", path: "/v1/transfers/assist", body: []byte(`{"court": "京0108", "tasks": ["freeze"], "detail": "冻结"}`), status: 422, code: api.CodeInvalid, msg: []string{"case_number is required"}},
		{name: "assist without court", omits: "AssistRequest.court", c: origin, method: "POST", path: "/v1/transfers/assist", body: offer(`"case_number": "` + free + `", "tasks": ["freeze"], "detail": "冻结"`), status: 422, code: api.CodeInvalid, msg: []string{"court is required"}},
		{name: "assist without tasks", omits: "AssistRequest.tasks", c: origin, method: "POST", path: "/v1/transfers/assist", body: offer(`"case_number": "` + free + `", "court": "京0108", "detail": "冻结"`), status: 422, code: api.CodeInvalid, msg: []string{"tasks is required"}},
		{name: "assist without detail", omits: "AssistRequest.detail", c: origin, method: "POST", path: "/v1/transfers/assist", body: offer(`"case_number": "` + free + `", "court": "京0108", "tasks": ["freeze"]`), status: 422, code: api.CodeInvalid, msg: []string{"detail is required"}},
		{name: "assistance result without outcome", omits: "AssistResultRequest.outcome", c: receiver, method: "POST", path: tp(t1, "assist/result"), body: []byte(`{"detail": "已冻结"}`), status: 422, code: api.CodeInvalid, msg: []string{"outcome is required"}},
		{name: "assistance result without detail", omits: "AssistResultRequest.detail", c: receiver, method: "POST", path: tp(t1, "assist/result"), body: []byte(`{"outcome": "done"}`), status: 422, code: api.CodeInvalid, msg: []string{"detail is required"}},
		{name: "gather without transfers", omits: "GatherRequest.transfers", c: decider, method: "POST", path: "/v1/transfers/gather", body: []byte(`{"receiver": "京0108", "decision_number": "（2026）京01执集1号"}`), status: 422, code: api.CodeInvalid, msg: []string{"transfers is required"}},
		{name: "gather without receiver", omits: "GatherRequest.receiver", c: decider, method: "POST", path: "/v1/transfers/gather", body: []byte(`{"transfers": ["` + string(t1) + `", "` + string(t2) + `"], "decision_number": "（2026）京01执集1号"}`), status: 422, code: api.CodeInvalid, msg: []string{"receiver is required"}},
		{name: "gather without decision_number", omits: "GatherRequest.decision_number", c: decider, method: "POST", path: "/v1/transfers/gather", body: []byte(`{"transfers": ["` + string(t1) + `", "` + string(t2) + `"], "receiver": "京0108"}`), status: 422, code: api.CodeInvalid, msg: []string{"decision_number is required"}},
		{name: "assistance detail of a transfer that is no request", c: origin, method: "GET", path: tp(t1, "assistance"), status: 404, code: api.CodeNotFound, msg: []string{"no request for assistance"}},
		// node/funds
		{name: "funds without kind", omits: "FundsEntryRequest.kind", c: origin, method: "POST", path: tp(t1, "funds"), body: []byte(`{"amount_fen": 100}`), status: 422, code: api.CodeInvalid, msg: []string{`kind ""`}},
		{name: "funds without amount_fen", omits: "FundsEntryRequest.amount_fen", c: origin, method: "POST", path: tp(t1, "funds"), body: []byte(`{"kind": "received", "source": "voluntary"}`), status: 422, code: api.CodeInvalid, msg: []string{"amount_fen 0"}},
		{name: "negative funds amount", c: origin, method: "POST", path: tp(t1, "funds"), body: []byte(`{"kind": "received", "source": "voluntary", "amount_fen": -5}`), status: 422, code: api.CodeInvalid, msg: []string{"amount_fen -5"}},
		{name: "funds before the handover", c: origin, method: "POST", path: tp(t1, "funds"), body: []byte(`{"kind": "received", "source": "voluntary", "amount_fen": 5}`), status: 409, code: api.CodeConflict, msg: []string{"from the handover"}},
		{name: "sanction without action", omits: "SanctionRequest.action", c: origin, method: "POST", path: tp(t1, "sanctions"), body: []byte(`{}`), status: 422, code: api.CodeInvalid, msg: []string{`action ""`}},
		{name: "notice without status", omits: "NoticeRequest.status", c: receiver, method: "POST", path: tp(t1, "notices/m1"), body: []byte(`{}`), status: 422, code: api.CodeInvalid, msg: []string{`status ""`}},
	}
	if len(cases) < 20 {
		t.Fatalf("%d cases; the issue asks for at least 20", len(cases))
	}

	before := s.state(t)
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := "Bearer " + tc.c.token
			switch tc.auth {
			case "":
			case "-":
				auth = ""
			default:
				auth = tc.auth
			}
			status, b := tc.c.send(t, tc.method, tc.path, auth, tc.body)
			var eb struct {
				Error *api.Error `json:"error"`
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&eb); err != nil || eb.Error == nil {
				t.Fatalf("%s %s on %s: %d, not a JSON error (%v):\n%s", tc.method, tc.path, tc.c.code, status, err, b)
			}
			if status != tc.status || eb.Error.Code != tc.code {
				t.Errorf("%s %s on %s: %d %s %q; want %d %s", tc.method, tc.path, tc.c.code, status, eb.Error.Code, eb.Error.Message, tc.status, tc.code)
			}
			for _, m := range tc.msg {
				if !strings.Contains(eb.Error.Message, m) {
					t.Errorf("message %q does not name %q", eb.Error.Message, m)
				}
			}
			for _, c := range []*apiConn{origin, decider, receiver} {
				if strings.Contains(string(b), c.token) {
					t.Errorf("the answer holds the API token of %s", c.code)
				}
			}
			if tc.auth != "" && tc.auth != "-" && strings.Contains(string(b), strings.TrimPrefix(strings.TrimPrefix(tc.auth, "Bearer "), "Basic ")) {
				t.Error("the answer echoes the token that was sent")
			}
			if !t.Failed() && tc.omits != "" {
				covered[tc.omits] = true
			}
			t.Logf("%d %s: %s", status, eb.Error.Code, eb.Error.Message)
		})
	}
	after := s.state(t)
	if d := before.diff(after); d != "" {
		t.Fatalf("refused requests changed state:\n%s", d)
	}

	// Every field the document requires in a transfer request body is
	// shown to be required by the server.
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody *struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/transfers") || strings.HasSuffix(path, "/assets") || strings.Contains(path, "/grants/") {
			continue
		}
		for _, o := range ops {
			if o.RequestBody == nil {
				continue
			}
			name := strings.TrimPrefix(o.RequestBody.Content["application/json"].Schema.Ref, "#/components/schemas/")
			for _, f := range doc.Components.Schemas[name].Required {
				if !covered[name+"."+f] {
					missing = append(missing, name+"."+f)
				}
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("the document requires %v, but no passing case shows the server refusing a body without it", slices.Compact(missing))
	}
	t.Logf("%d refused requests on %d nodes; no node's store, transfers, log heads or audit log changed", len(cases), len(before))
}
