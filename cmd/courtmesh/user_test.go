package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
)

var userTokenRE = regexp.MustCompile(api.PersonalTokenPrefix + `[0-9a-f]{16}_[A-Za-z0-9_-]+`)

// TestUserCommands drives `courtmesh user` on a stopped node's store and
// through a running node: accounts with roles, a token shown once and
// never on disk in clear, cases assigned to a judge, a token revoked, an
// account disabled; through the node, a person's own token
// (COURTMESH_TOKEN) is held to the policy.
func TestUserCommands(t *testing.T) {
	if out, err := runCLI(t, "user", "--help"); err != nil || !strings.Contains(out, "add") || !strings.Contains(out, "token") {
		t.Fatalf("user --help: %v\n%s", err, out)
	}
	cases := filepath.Join(t.TempDir(), "cases")
	if out, err := runCLI(t, "gen", "--out", cases, "--cases", "1", "--seed", "5", "--today", "2025-06-01"); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	for _, mode := range []string{"stopped", "running"} {
		t.Run(mode, func(t *testing.T) {
			data := newDataDir(t, nil)
			if mode == "running" {
				data = startCaseNode(t)
			}
			out, err := runCLI(t, "case", "import", "--data", data, filepath.Join(cases, "case-0001"))
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			n := regexp.MustCompile(`（\d{4}）京0105执\d+号`).FindString(out)
			if out, err := runCLI(t, "user", "add", "--data", data, "--name", "li.clerk", "--display-name", "李某某", "--role", "clerk"); err != nil || !strings.Contains(out, "书记员") {
				t.Fatalf("user add: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "user", "add", "--data", data, "--name", "wang", "--display-name", "王某某", "--role", "承办法官", "--case", n); err != nil {
				t.Fatalf("user add judge: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "user", "add", "--data", data, "--name", "wang", "--display-name", "王某某", "--role", "judge"); !errors.Is(err, court.ErrConflict) {
				t.Errorf("the same name again: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "user", "add", "--data", data, "--name", "x", "--display-name", "某", "--role", "janitor"); !errors.Is(err, court.ErrInvalid) {
				t.Errorf("an unknown role: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "user", "assign", "--data", data, "li.clerk", n); !errors.Is(err, court.ErrInvalid) {
				t.Errorf("a case assigned to a clerk: %v\n%s", err, out)
			}
			out, err = runCLI(t, "user", "token", "--data", data, "--days", "30", "li.clerk")
			clerkTok := userTokenRE.FindString(out)
			if err != nil || clerkTok == "" {
				t.Fatalf("user token: %v\n%s", err, out)
			}
			out, err = runCLI(t, "user", "token", "--data", data, "wang")
			judgeTok := userTokenRE.FindString(out)
			if err != nil || judgeTok == "" {
				t.Fatalf("user token: %v\n%s", err, out)
			}
			out, err = runCLI(t, "user", "list", "--data", data)
			if err != nil || !strings.Contains(out, "li.clerk") || !strings.Contains(out, "王某某") || userTokenRE.MatchString(out) || !strings.Contains(out, "active") {
				t.Fatalf("user list: %v\n%s", err, out)
			}

			// A page of one, then the rest from its cursor.
			out, err = runCLI(t, "user", "list", "--data", data, "--limit", "1")
			m := regexp.MustCompile(`More accounts: add --cursor (\S+)`).FindStringSubmatch(out)
			if err != nil || m == nil || strings.Contains(out, "li.clerk") == strings.Contains(out, "wang") {
				t.Fatalf("user list --limit 1: %v\n%s", err, out)
			}
			rest, err := runCLI(t, "user", "list", "--data", data, "--cursor", m[1])
			if err != nil || strings.Contains(rest, "More accounts") || strings.Contains(rest, "li.clerk") == strings.Contains(out, "li.clerk") {
				t.Fatalf("user list --cursor: %v\n%s", err, rest)
			}

			if mode == "running" {
				// The clerk, as themselves: cases yes, accounts no.
				t.Setenv(personalTokenEnv, clerkTok)
				if out, err := runCLI(t, "case", "list", "--data", data); err != nil || !strings.Contains(out, n) {
					t.Errorf("case list as the clerk: %v\n%s", err, out)
				}
				if out, err := runCLI(t, "user", "list", "--data", data); !errors.Is(err, court.ErrPermission) || exitStatus(err) != 5 || !strings.Contains(err.Error(), "li.clerk") {
					t.Errorf("user list as the clerk: %v (exit %d)\n%s", err, exitStatus(err), out)
				}
				// The judge may reveal the assigned case.
				t.Setenv(personalTokenEnv, judgeTok)
				if out, err := runCLI(t, "case", "show", "--data", data, "--reveal", "--purpose", "审查财产", n); err != nil {
					t.Errorf("case show --reveal as the judge: %v\n%s", err, out)
				}
				t.Setenv(personalTokenEnv, "")
			}

			// Revoke the clerk's token, disable the judge.
			var us []api.UserInfo
			out, err = runCLI(t, "user", "list", "--data", data, "--json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(out), &us); err != nil {
				t.Fatal(err)
			}
			var clerkID string
			for _, u := range us {
				if u.Name == "li.clerk" {
					clerkID = u.Tokens[0].ID
				}
			}
			if out, err := runCLI(t, "user", "token", "--data", data, "--revoke", clerkID, "li.clerk"); err != nil {
				t.Fatalf("revoke: %v\n%s", err, out)
			}
			if out, err := runCLI(t, "user", "disable", "--data", data, "wang"); err != nil {
				t.Fatalf("disable: %v\n%s", err, out)
			}
			out, _ = runCLI(t, "user", "list", "--data", data)
			if !strings.Contains(out, "revoked") || !strings.Contains(out, "disabled") {
				t.Errorf("after revoke and disable: %s", out)
			}
			if mode == "running" {
				for _, tok := range []string{clerkTok, judgeTok} {
					t.Setenv(personalTokenEnv, tok)
					if out, err := runCLI(t, "case", "list", "--data", data); err == nil || !strings.Contains(err.Error(), "revoked bearer token") {
						t.Errorf("a revoked token, a disabled account: %v\n%s", err, out)
					}
				}
				t.Setenv(personalTokenEnv, "")
			}
			if mode == "stopped" {
				// No token is on disk in clear.
				filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
					if err != nil || info.IsDir() {
						return nil
					}
					b, _ := os.ReadFile(p)
					for _, tok := range []string{clerkTok, judgeTok} {
						_, secret, _ := strings.Cut(strings.TrimPrefix(tok, api.PersonalTokenPrefix), "_")
						if bytes.Contains(b, []byte(secret)) {
							t.Errorf("%s holds a token's secret in clear", p)
						}
					}
					return nil
				})
			}
		})
	}
}
