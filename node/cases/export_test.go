package cases_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
)

// TestExportConfinedAndAudited: an export through the API goes only to a
// new folder under the exports folder, never inside the data directory
// (symbolic links and ".." resolved), and needs a purpose; every export,
// show and import is an audit entry naming the token, the case and the
// purpose; an export whose entry cannot be written writes nothing. The
// offline command line's service writes anywhere but the data directory,
// and a node without exports_dir refuses exports.
func TestExportConfinedAndAudited(t *testing.T) {
	ctx := context.Background()
	cn := startCaseNode(t)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 7, RefDate: caseRef})
	if err != nil {
		t.Fatal(err)
	}
	var imp api.ImportResult
	if err := cn.cl.Do(ctx, "POST", "/v1/cases/import", api.ImportRequest{Path: generated[0].Dir}, &imp); err != nil {
		t.Fatal(err)
	}
	num := imp.Case
	data := string(cn.dir)
	elsewhere := t.TempDir()
	link := filepath.Join(cn.exports, "link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", strings.Count(data, "/"))
	for _, c := range []struct {
		name, out, purpose string
		code               string
		msg                string
		written            string // where a wrong export would land
	}{
		{"data dir dot-dot", data + "/" + up + strings.TrimPrefix(elsewhere, "/") + "/x", "核对", api.CodeForbidden, "exports folder", filepath.Join(elsewhere, "x")},
		{"inside the chunk store", filepath.Join(data, "store", "chunks", "x"), "核对", api.CodeForbidden, "data directory", filepath.Join(data, "store", "chunks", "x")},
		{"inside the data dir", filepath.Join(data, "x"), "核对", api.CodeForbidden, "data directory", filepath.Join(data, "x")},
		{"symlink into the data dir", filepath.Join(link, "x"), "核对", api.CodeForbidden, "data directory", filepath.Join(data, "x")},
		{"exports dot-dot", filepath.Join(cn.exports, "x") + "/../../" + filepath.Base(elsewhere) + "/y", "核对", api.CodeForbidden, "exports folder", filepath.Join(elsewhere, "y")},
		{"elsewhere", filepath.Join(elsewhere, "z"), "核对", api.CodeForbidden, "exports folder", filepath.Join(elsewhere, "z")},
		{"the exports folder itself", cn.exports, "核对", api.CodeForbidden, "exports folder", ""},
		{"no purpose", filepath.Join(cn.exports, "p1"), "", api.CodeInvalid, "purpose is required", filepath.Join(cn.exports, "p1")},
		{"purpose with a phone number", filepath.Join(cn.exports, "p2"), "应 13800000000 要求", api.CodeInvalid, "mobile phone", filepath.Join(cn.exports, "p2")},
	} {
		t.Run(c.name, func(t *testing.T) {
			// raw JSON: the path is sent exactly as written, ".." included.
			body := []byte(`{"out":` + strconvQuote(c.out) + `,"purpose":` + strconvQuote(c.purpose) + `}`)
			status, b := cn.raw(t, "POST", casePath(num)+"/export", cn.token, body)
			if status/100 != 4 || !strings.Contains(string(b), `"`+c.code+`"`) || !strings.Contains(string(b), c.msg) {
				t.Errorf("export to %s: %d %s, want %s naming %q", c.out, status, b, c.code, c.msg)
			}
			if c.written != "" {
				if _, err := os.Stat(c.written); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the refused export left %s: %v", c.written, err)
				}
			}
		})
	}
	if ents, _ := os.ReadDir(filepath.Join(data, "store")); len(ents) > 0 {
		for _, e := range ents {
			if e.Name() == "x" {
				t.Errorf("an export landed in the store")
			}
		}
	}

	// The one that goes: audited before, with the token, case and purpose.
	head0, _, _ := cn.db.AuditHead()
	good := filepath.Join(cn.exports, "ok")
	var res api.ExportResult
	if err := cn.cl.Do(ctx, "POST", casePath(num)+"/export", api.ExportRequest{Out: good, Purpose: "移送审判庭审查"}, &res); err != nil || res.Documents == 0 {
		t.Fatalf("export under the exports folder: %v %+v", err, res)
	}
	var show api.CaseDetail
	if err := cn.cl.Do(ctx, "GET", casePath(num)+"?purpose="+url.QueryEscape("答复当事人查询"), nil, &show); err != nil {
		t.Fatal(err)
	}
	head1, _, _ := cn.db.AuditHead()
	ents, err := cn.db.AuditEntries(1, head1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"case.imported": "api-token", "case.exported": "移送审判庭审查", "case.shown": "答复当事人查询"}
	for _, e := range ents {
		if w, ok := want[e.Event]; ok && e.Case == num && strings.Contains(e.Detail, "api-token") && strings.Contains(e.Detail, w) {
			delete(want, e.Event)
		}
		if e.Event == "case.exported" && e.Seq <= head0 {
			t.Errorf("a refused export was audited as done: %+v", e)
		}
	}
	if len(want) > 0 {
		t.Errorf("audit entries missing (event: wanted text): %v; have %+v", want, ents)
	}

	// An export whose entry cannot be written writes nothing.
	cn.db.SetAuditFault(func(e storage.AuditEntry) error { return errors.New("disk full (test)") })
	blocked := filepath.Join(cn.exports, "blocked")
	err = cn.cl.Do(ctx, "POST", casePath(num)+"/export", api.ExportRequest{Out: blocked, Purpose: "核对"}, nil)
	if err == nil {
		t.Errorf("export with the audit log failing: %v", err)
	}
	if _, serr := os.Stat(blocked); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("export with the audit log failing wrote %s (%v)", blocked, err)
	}
	if err := cn.cl.Do(ctx, "GET", casePath(num), nil, &show); err == nil {
		t.Errorf("show with the audit log failing was answered")
	}
	cn.db.SetAuditFault(nil)

	// The offline command line's service: anywhere but the data directory.
	n, err := court.ParseCaseNumber(num)
	if err != nil {
		t.Fatal(err)
	}
	offline := cases.New(cases.Deps{Store: cn.db, DataDir: data, AnyExportFolder: true, Actor: "offline cli (uid 0)"})
	if _, err := offline.Export(ctx, n, filepath.Join(data, "store", "x"), "核对"); !errors.Is(err, court.ErrPermission) {
		t.Errorf("offline export into the data directory: %v", err)
	}
	if _, err := offline.Export(ctx, n, filepath.Join(elsewhere, "offline"), "核对"); err != nil {
		t.Errorf("offline export elsewhere: %v", err)
	}
	// A node without exports_dir refuses, saying what to set.
	unset := cases.New(cases.Deps{Store: cn.db, DataDir: data})
	if _, err := unset.Export(ctx, n, filepath.Join(elsewhere, "unset"), "核对"); !errors.Is(err, court.ErrPermission) || !strings.Contains(err.Error(), "exports_dir") {
		t.Errorf("export without exports_dir: %v", err)
	}
	if err := cases.CheckExportsDir(data, filepath.Join(data, "exports")); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("exports_dir inside the data directory: %v", err)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
