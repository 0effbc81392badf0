package cases_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// TestShowMaskedAndRevealed: GET /v1/cases and /v1/cases/{n} mask the
// parties' names and the assets' whereabouts; ?reveal=1 needs a purpose,
// unseals the identity and account numbers, and is audited as case.shown
// naming the view and the purpose; a purpose that names a party is
// refused and nothing is shown or audited.
func TestShowMaskedAndRevealed(t *testing.T) {
	ctx := context.Background()
	cn := startCaseNode(t)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 6, Seed: 7, RefDate: caseRef})
	if err != nil {
		t.Fatal(err)
	}
	// The case with a plate or an address to hide: a vehicle or real
	// estate. Give it a distinctive address and plate.
	var c gen.Case
	var f importer.CaseFile
	var where []string
	for _, g := range generated {
		raw, err := os.ReadFile(filepath.Join(g.Dir, "case.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cf importer.CaseFile
		if err := json.Unmarshal(raw, &cf); err != nil {
			t.Fatal(err)
		}
		for i, a := range cf.Assets {
			switch a.Class {
			case "real_estate":
				cf.Assets[i].Description = "北京市朝阳区翀鸣路88号院7号楼1204室住宅"
				where = append(where, "翀鸣路")
			case "vehicle":
				cf.Assets[i].Description = "小型轿车一辆，号牌京ZC9Q7X"
				where = append(where, "ZC9Q7X")
			default:
				continue
			}
			c, f = g, cf
		}
		if c.Dir != "" {
			raw, _ := json.Marshal(f)
			if err := os.WriteFile(filepath.Join(g.Dir, "case.json"), raw, 0o600); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if c.Dir == "" {
		t.Fatal("no generated case has real estate or a vehicle; the whereabouts check would prove nothing")
	}
	if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: c.Dir}, &api.ImportResult{}); err != nil {
		t.Fatal(err)
	}
	num := c.Number.String()
	// What must not appear masked, and must appear revealed.
	var clear []string
	for _, p := range f.Parties {
		clear = append(clear, p.Name)
		if p.IDNumber != "" {
			clear = append(clear, p.IDNumber)
		}
	}
	for _, a := range f.Assets {
		if a.Account != "" {
			clear = append(clear, a.Account)
		}
	}
	clear = append(clear, where...)

	var list []api.CaseSummary
	if err := cn.cl.Do(ctx, "GET", "/v1/cases", nil, &list); err != nil || len(list) != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	status, masked := cn.raw(t, "GET", casePath(num), cn.token, nil)
	if status != http.StatusOK {
		t.Fatalf("show: %d %s", status, masked)
	}
	rawList, _ := json.Marshal(list)
	for _, s := range clear {
		if strings.Contains(string(masked), s) || strings.Contains(string(rawList), s) {
			t.Errorf("the masked view shows %q", s)
		}
	}
	var d api.CaseDetail
	if err := json.Unmarshal(masked, &d); err != nil || d.Revealed {
		t.Fatalf("masked show: revealed %t, %v", d.Revealed, err)
	}
	for _, p := range d.Parties {
		if !strings.Contains(p.Name, "*") || p.IDNumber != "" {
			t.Errorf("masked party %+v", p)
		}
	}

	// Reveal: refused without a purpose, or with one naming a party.
	before := auditEvents(t, cn, "case.shown")
	for _, q := range []string{"?reveal=1", "?reveal=1&purpose=" + urlq("核对"+f.Parties[1].Name+"财产")} {
		if status, body := cn.raw(t, "GET", casePath(num)+q, cn.token, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("show%s: %d %s; want 422", q, status, body)
		}
	}
	if status, _ := cn.raw(t, "GET", casePath(num)+"?reveal=yes&purpose=x", cn.token, nil); status != http.StatusBadRequest {
		t.Errorf("reveal=yes: %d, want 400", status)
	}
	if n := auditEvents(t, cn, "case.shown"); len(n) != len(before) {
		t.Errorf("refused reveals wrote %d case.shown entries", len(n)-len(before))
	}
	const purpose = "核对被执行人身份"
	var r api.CaseDetail
	if err := cn.cl.Do(ctx, "GET", casePath(num)+"?reveal=1&purpose="+urlq(purpose), nil, &r); err != nil {
		t.Fatalf("reveal: %v", err)
	}
	rawR, _ := json.Marshal(r)
	if !r.Revealed {
		t.Error("revealed view: revealed = false")
	}
	for _, s := range clear {
		if !strings.Contains(string(rawR), s) {
			t.Errorf("the revealed view does not show %q", s)
		}
	}
	shown := auditEvents(t, cn, "case.shown")
	if len(shown) != len(before)+1 {
		t.Fatalf("%d new case.shown entries after one reveal, want 1", len(shown)-len(before))
	}
	last := shown[len(shown)-1]
	if last.Case != num || !strings.Contains(last.Detail, "revealed") || !strings.Contains(last.Detail, purpose) || !strings.Contains(last.Detail, "api-token") {
		t.Errorf("case.shown entry of the reveal: %+v", last)
	}
	for _, s := range clear {
		if strings.Contains(last.Detail, s) {
			t.Errorf("the audit entry holds %q", s)
		}
	}
	// The masked show before was audited too, as a masked view.
	if prev := shown[len(shown)-2]; !strings.Contains(prev.Detail, "masked view") {
		t.Errorf("case.shown entry of the masked view: %+v", prev)
	}
}

func urlq(s string) string { return url.QueryEscape(s) }

func auditEvents(t *testing.T, cn *caseNode, event string) []struct{ Case, Detail string } {
	t.Helper()
	es, err := cn.db.AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []struct{ Case, Detail string }
	for _, e := range es {
		if e.Event == event {
			out = append(out, struct{ Case, Detail string }{e.Case, e.Detail})
		}
	}
	return out
}
