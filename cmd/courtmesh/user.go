package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/users"
)

// The user command: IT's management of the named accounts of the court's
// staff (node/users). Its messages live in this file only.

func init() {
	register(&command{name: "user", summary: "the court staff's named accounts, roles and API tokens (IT)", subs: []*command{
		{name: "add", summary: "create an account: --name, --display-name (姓名), --role (repeatable), --case (for a judge)", run: runUserAdd},
		{name: "list", summary: "list the accounts, their roles, cases and tokens (never a token's secret)", run: runUserList},
		{name: "disable", summary: "disable an account: its tokens stop at once", run: runUserDisable},
		{name: "token", summary: "issue an API token for an account (shown once), or --revoke ID", run: runUserToken},
		{name: "assign", summary: "assign cases to a judge (承办法官), or take them away with --remove", run: runUserAssign},
	}})
}

// userService is how a user command reaches the accounts: through the
// running node's local API (the bootstrap token in the data directory),
// or, with the node stopped, on its store. Both audit with who acted.
type userService interface {
	AddUser(ctx context.Context, req api.UserRequest) (api.UserInfo, error)
	ListUsers(ctx context.Context, cursor string, limit int) ([]api.UserInfo, string, error)
	DisableUser(ctx context.Context, name string) (api.UserInfo, error)
	IssueToken(ctx context.Context, name string, req api.TokenRequest) (api.IssuedToken, error)
	RevokeToken(ctx context.Context, name, id string) (api.UserInfo, error)
	AssignCases(ctx context.Context, name string, req api.CasesRequest) (api.UserInfo, error)
}

var _ userService = (*users.Service)(nil)

// userAPI is userService over the local API.
type userAPI struct{ cl *api.Client }

func (u userAPI) AddUser(ctx context.Context, req api.UserRequest) (out api.UserInfo, err error) {
	return out, fromAPI(u.cl.Do(ctx, "POST", "/v1/users", req, &out))
}

func (u userAPI) ListUsers(ctx context.Context, cursor string, limit int) (out []api.UserInfo, next string, err error) {
	next, err = u.cl.Page(ctx, "/v1/users"+pageQuery(nil, cursor, limit), &out)
	return out, next, fromAPI(err)
}

func (u userAPI) DisableUser(ctx context.Context, name string) (out api.UserInfo, err error) {
	return out, fromAPI(u.cl.Do(ctx, "POST", "/v1/users/"+url.PathEscape(name)+"/disable", nil, &out))
}

func (u userAPI) IssueToken(ctx context.Context, name string, req api.TokenRequest) (out api.IssuedToken, err error) {
	return out, fromAPI(u.cl.Do(ctx, "POST", "/v1/users/"+url.PathEscape(name)+"/tokens", req, &out))
}

func (u userAPI) RevokeToken(ctx context.Context, name, id string) (out api.UserInfo, err error) {
	return out, fromAPI(u.cl.Do(ctx, "POST", "/v1/users/"+url.PathEscape(name)+"/tokens/"+url.PathEscape(id)+"/revoke", nil, &out))
}

func (u userAPI) AssignCases(ctx context.Context, name string, req api.CasesRequest) (out api.UserInfo, err error) {
	return out, fromAPI(u.cl.Do(ctx, "POST", "/v1/users/"+url.PathEscape(name)+"/cases", req, &out))
}

// openUsers returns the accounts of data: through the node if it runs,
// else on its stopped store; close releases what it opened.
func openUsers(data string) (svc userService, close func(), err error) {
	if data == "" {
		return nil, nil, errorf("--data is required: the node's data directory")
	}
	if nodeRunning(data) {
		cl, err := client(data)
		if err != nil {
			return nil, nil, err
		}
		return userAPI{cl}, func() {}, nil
	}
	db, err := openStore(data, false)
	if err != nil {
		return nil, nil, err
	}
	a, err := audit.New(audit.Deps{Store: db})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return users.New(users.Deps{Store: db, Audit: a, Actor: fmt.Sprintf("offline cli (uid %d)", os.Getuid())}), func() { db.Close() }, nil
}

// personalTokenEnv names the environment variable with which a person
// runs the command line under their own token (from `courtmesh user
// token`) rather than the node's bootstrap token: the node's policy then
// applies to them, and the audit log names them.
const personalTokenEnv = "COURTMESH_TOKEN"

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runUserAdd(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "user add")
	name := fs.String("name", "", "login name: lower-case letters, digits, '.', '-', '_'")
	display := fs.String("display-name", "", "the person's name (姓名), as decisions and acceptances will carry it, sealed")
	var roles, cases listFlag
	fs.Var(&roles, "role", "a role (repeatable): 书记员 (clerk), 承办法官 (judge), 执行局长 (director), 上级法院审判员 (superior-judge), IT (it), 审计 (auditor), operator")
	fs.Var(&cases, "case", "a case number assigned to a judge (repeatable)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *name == "" {
		fprintln(c.stderr, "usage: courtmesh user add --data DIR --name NAME --display-name 姓名 --role ROLE [--role ROLE] [--case 案号]")
		return errUsage
	}
	svc, done, err := openUsers(*data)
	if err != nil {
		return err
	}
	defer done()
	u, err := svc.AddUser(ctx, api.UserRequest{Name: *name, DisplayName: *display, Roles: roles, Cases: cases})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, u)
	}
	fprintf(c.stdout, "account %s (%s) created, roles %s; issue its token with `courtmesh user token --data %s %s`\n", u.Name, u.DisplayName, rolesText(u.Roles), *data, u.Name)
	return nil
}

func rolesText(rs []court.StaffRole) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func runUserList(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "user list")
	limit := fs.Int("limit", 0, "accounts a page (1 to 1000), by name; 0: every account, page after page")
	cursor := fs.String("cursor", "", "continue a listing where the previous page ended (printed after it)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fprintln(c.stderr, "usage: courtmesh user list --data DIR [--limit N] [--cursor CURSOR] [--json]")
		return errUsage
	}
	if err := checkPageFlag(*limit); err != nil {
		return err
	}
	svc, done, err := openUsers(*data)
	if err != nil {
		return err
	}
	defer done()
	us, next, err := allPages(*cursor, *limit, func(cur string, n int) ([]api.UserInfo, string, error) {
		return svc.ListUsers(ctx, cur, n)
	})
	if err != nil {
		return err
	}
	if next != "" {
		defer fprintf(c.stderr, "More accounts: add --cursor %s\n", next)
	}
	if *asJSON {
		return printJSON(c.stdout, us)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fprintln(tw, "NAME\tPERSON\tROLES\tSTATE\tCASES\tTOKENS")
	for _, u := range us {
		state := T("active")
		if u.Disabled {
			state = sprintf("disabled %s", u.DisabledAt.Format(time.DateOnly))
		}
		var toks []string
		for _, t := range u.Tokens {
			toks = append(toks, sprintf("%s (%s, expires %s)", t.ID, tokenStateText(t.State), t.Expires.Format(time.DateOnly)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", u.Name, u.DisplayName, rolesText(u.Roles), state, len(u.Cases), strings.Join(toks, "; "))
	}
	return tw.Flush()
}

// tokenStateText is a token's state ("active", "expired" or "revoked")
// in the language of the messages; another state prints as it is.
func tokenStateText(st string) string {
	switch st {
	case "active":
		return T("active")
	case "expired":
		return T("expired")
	case "revoked":
		return T("revoked")
	}
	return st
}

func runUserDisable(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "user disable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fprintln(c.stderr, "usage: courtmesh user disable --data DIR NAME")
		return errUsage
	}
	svc, done, err := openUsers(*data)
	if err != nil {
		return err
	}
	defer done()
	u, err := svc.DisableUser(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fprintf(c.stdout, "account %s disabled: its %d token(s) no longer work\n", u.Name, len(u.Tokens))
	return nil
}

func runUserToken(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "user token")
	days := fs.Int("days", users.DefaultTokenDays, sprintf("the token's life in days (1 to %d)", api.MaxTokenDays))
	revoke := fs.String("revoke", "", "revoke the token with this id instead of issuing one")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fprintln(c.stderr, "usage: courtmesh user token --data DIR [--days N | --revoke ID] NAME")
		return errUsage
	}
	svc, done, err := openUsers(*data)
	if err != nil {
		return err
	}
	defer done()
	name := fs.Arg(0)
	if *revoke != "" {
		u, err := svc.RevokeToken(ctx, name, *revoke)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(c.stdout, u)
		}
		fprintf(c.stdout, "token %s of %s revoked\n", *revoke, u.Name)
		return nil
	}
	t, err := svc.IssueToken(ctx, name, api.TokenRequest{ExpiresInDays: *days})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(c.stdout, t)
	}
	fprintf(c.stdout, "token %s for %s, valid until %s (shown once; the node keeps only its hash):\n%s\n", t.ID, t.User, t.Expires.Format(time.DateOnly), t.Token)
	return nil
}

func runUserAssign(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "user assign")
	remove := fs.Bool("remove", false, "take the cases away instead")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		fprintln(c.stderr, "usage: courtmesh user assign --data DIR [--remove] NAME 案号...")
		return errUsage
	}
	svc, done, err := openUsers(*data)
	if err != nil {
		return err
	}
	defer done()
	u, err := svc.AssignCases(ctx, fs.Arg(0), api.CasesRequest{Cases: fs.Args()[1:], Remove: *remove})
	if err != nil {
		return err
	}
	fprintf(c.stdout, "%s now has %d case(s): %s\n", u.Name, len(u.Cases), strings.Join(u.Cases, " "))
	return nil
}
