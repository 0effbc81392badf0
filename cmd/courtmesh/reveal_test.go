package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// TestCaseShowRevealOffline: with the node stopped, case show and case
// list mask the parties' names; case show --reveal needs --purpose and
// then shows the names and the unsealed identity numbers, and the audit
// log names the reveal.
func TestCaseShowRevealOffline(t *testing.T) {
	data := newDataDir(t, nil)
	generated, err := gen.Generate(filepath.Join(t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: 11, RefDate: testRef})
	if err != nil {
		t.Fatal(err)
	}
	c := generated[0]
	if out, err := runCLI(t, "case", "import", "--data", data, c.Dir); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(c.Dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f importer.CaseFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	n := c.Number.String()
	for _, args := range [][]string{{"case", "list", "--data", data}, {"case", "show", "--data", data, n}, {"case", "show", "--json", "--data", data, n}} {
		out, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		for _, p := range f.Parties {
			if strings.Contains(out, p.Name) || p.IDNumber != "" && strings.Contains(out, p.IDNumber) {
				t.Errorf("%v shows party %s in clear:\n%s", args, p.ID, out)
			}
		}
		if !strings.Contains(out, "*") {
			t.Errorf("%v shows nothing masked:\n%s", args, out)
		}
	}
	if out, err := runCLI(t, "case", "show", "--reveal", "--data", data, n); !errors.Is(err, errUsage) || !strings.Contains(out, "--purpose") {
		t.Errorf("show --reveal without --purpose: %v\n%s", err, out)
	}
	out, err := runCLI(t, "case", "show", "--reveal", "--purpose", "核对被执行人身份", "--data", data, n)
	if err != nil {
		t.Fatalf("show --reveal: %v\n%s", err, out)
	}
	if !strings.Contains(out, "REVEALED") {
		t.Errorf("the revealed view does not say so:\n%s", out)
	}
	for _, p := range f.Parties {
		if !strings.Contains(out, p.Name) || p.IDNumber != "" && !strings.Contains(out, p.IDNumber) {
			t.Errorf("show --reveal does not show party %s (%s):\n%s", p.ID, p.Name, out)
		}
	}
	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	if out, err := runCLI(t, "audit", "export", "--data", data, "--out", exp); err != nil {
		t.Fatalf("audit export: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(exp)
	if !strings.Contains(string(b), "revealed") || !strings.Contains(string(b), "核对被执行人身份") || !strings.Contains(string(b), "offline cli (uid") {
		t.Errorf("the audit export has no case.shown entry of the reveal naming the user and the purpose:\n%s", b)
	}
}

// TestAccountNeverAFlag: assets update refuses --account without
// repeating the number, and --account-file reads one line from a file or
// standard input.
func TestAccountNeverAFlag(t *testing.T) {
	const acct = "9999073117310468213"
	out, err := runCLI(t, "assets", "update", "--data", t.TempDir(), "--kind", "search_result", "--new-asset", "x1", "--account", acct, "0123456789abcdef0123456789abcdef")
	if !errors.Is(err, errUsage) || !strings.Contains(out, "--account-file") || strings.Contains(out, acct) {
		t.Errorf("assets update --account: %v (want a usage error naming --account-file, without the number)\n%s", err, out)
	}
	if out, err := runCLI(t, "assets", "update", "--data", t.TempDir(), "--kind", "search_result", "--account="+acct, "x"); !errors.Is(err, errUsage) || strings.Contains(out, acct) {
		t.Errorf("assets update --account=N: %v\n%s", err, out)
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := &cli{stdin: strings.NewReader("  " + acct + "\n")}
	if v, err := readSecret(c, "-", "account number"); err != nil || v != acct {
		t.Errorf("from stdin: %q, %v", v, err)
	}
	if v, err := readSecret(c, file("ok", acct+"\r\n"), "account number"); err != nil || v != acct {
		t.Errorf("from a file: %q, %v", v, err)
	}
	for name, content := range map[string]string{"empty": " \n", "two": acct + "\n" + acct + "\n", "long": strings.Repeat("9", maxSecret+1)} {
		_, err := readSecret(c, file(name, content), "account number")
		if !errors.Is(err, court.ErrInvalid) || strings.Contains(err.Error(), acct) {
			t.Errorf("%s file: %v, want invalid without the number", name, err)
		}
	}
	if _, err := readSecret(c, filepath.Join(dir, "absent"), "account number"); err == nil {
		t.Error("an absent file was read")
	}
	if _, err := readSecret(&cli{}, "-", "account number"); err == nil {
		t.Error("read from no standard input")
	}
}
