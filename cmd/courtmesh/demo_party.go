package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
)

// appendConfig adds lines to a data directory's config file.
func appendConfig(d datadir.Dir, lines string) error {
	f, err := os.OpenFile(d.Path(datadir.ConfigFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(lines); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// partyLogin is what a person needs to try the party service.
type partyLogin struct {
	url, caseNumber, code, last4 string
}

var demoCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// demoParty issues the query codes of the moved case at 京0105, signs in
// as its applicant through 京0105's party service (over HTTP, as a
// browser would) with the old number, files a complaint, has 京01 answer
// it, and returns what a person needs to sign in.
func demoParty(ctx context.Context, d *demo, courts []devmesh.Court, nodes []*node.Node, moved court.CaseNumber) (partyLogin, error) {
	by := map[court.CourtCode]*node.Node{}
	for i, c := range courts {
		by[c.Code] = nodes[i]
	}
	origin, sup := by["京0105"], by["京01"]
	d.say("京0105 issues query codes for the parties of %s (printed once; only their hashes are kept).", moved)
	res, err := origin.Party().Codes(ctx, moved, false)
	if err != nil {
		return partyLogin{}, err
	}
	login := partyLogin{url: "http://" + origin.PartyAddr() + "/", caseNumber: moved.String()}
	for _, is := range res.Codes {
		if is.Role == court.RoleApplicant && is.Code != "" && login.code == "" {
			id, err := origin.Store().PartyID(moved, is.Party)
			if err != nil {
				return partyLogin{}, err
			}
			login.code, login.last4 = is.Code, id[len(id)-4:]
			d.ok("applicant %s: query code %s", is.Name, is.Code)
		}
	}
	if login.code == "" {
		return partyLogin{}, errorf("demo: case %s has no applicant with a query code", moved)
	}

	d.say("The applicant signs in at 京0105's party service with the old number and sees the case now at 京0108.")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	page := func(resp *http.Response, err error) (string, error) {
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return "", errorf("demo: party service answered %s", resp.Status)
		}
		return string(b), err
	}
	body, err := page(hc.Get(login.url))
	if err != nil {
		return partyLogin{}, err
	}
	m := demoCSRF.FindStringSubmatch(body)
	if m == nil {
		return partyLogin{}, errorf("demo: the sign-in page has no CSRF token")
	}
	body, err = page(hc.PostForm(login.url+"signin", url.Values{"csrf": {m[1]}, "case": {login.caseNumber}, "code": {login.code}, "id4": {login.last4}}))
	if err != nil {
		return partyLogin{}, err
	}
	if !strings.Contains(body, d.filed) {
		return partyLogin{}, errorf("demo: the party's page does not show the new case number")
	}
	d.ok("the page shows 京0108 and %s", d.filed)

	d.say("The applicant complains of no progress; the complaint reaches 京01 sealed, and 京01 answers.")
	m = demoCSRF.FindStringSubmatch(body)
	if m == nil {
		return partyLogin{}, errorf("demo: the case page has no CSRF token")
	}
	if _, err := page(hc.PostForm(login.url+"complaints", url.Values{"csrf": {m[1]}, "target": {"京0108"}, "category": {"no_progress"}, "text": {"移送后一个月没有进展。（演示）"}})); err != nil {
		return partyLogin{}, err
	}
	var ref string
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		l, err := sup.Party().List(ctx, "supervising", "", 10)
		if err != nil || len(l.Complaints) == 0 {
			return false
		}
		ref = l.Complaints[0].Ref
		return true
	}); err != nil {
		return partyLogin{}, errorf("demo: the complaint did not reach 京01: %w", err)
	}
	if _, err := sup.Party().Answer(ctx, ref, "已督促京0108十日内告知进展。（演示）"); err != nil {
		return partyLogin{}, err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		body, err := page(hc.Get(login.url + "case"))
		return err == nil && strings.Contains(body, "已督促京0108十日内告知进展")
	}); err != nil {
		return partyLogin{}, errorf("demo: the answer did not reach the party's page: %w", err)
	}
	d.ok("complaint %s answered by 京01; the party sees the answer", ref)
	return login, nil
}
