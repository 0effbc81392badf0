package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// noBackend answers the API's own endpoints, which this test does not use.
type noBackend struct{}

func (noBackend) Status() api.Status { return api.Status{} }
func (noBackend) Peers() []api.Peer  { return nil }
func (noBackend) InstallBundle(context.Context, []byte, []byte) (api.InstallResult, error) {
	return api.InstallResult{}, nil
}

// TestUsersPaged serves the people routes over a real store on a Unix
// socket and pages GET /v1/users over five accounts, two a page: three
// pages, every account once, by name; a cursor that does not continue
// the listing is refused as invalid, a limit out of range as a bad
// request.
func TestUsersPaged(t *testing.T) {
	e := newEnv(t)
	ctx := api.WithPerson(context.Background(), api.Person{Name: "it.admin", Roles: []court.StaffRole{court.RoleIT}})
	var want []string
	for _, name := range []string{"zhao", "qian", "sun", "li", "zhou"} {
		if _, err := e.s.AddUser(ctx, api.UserRequest{Name: name, DisplayName: "测试" + name, Roles: []string{"clerk"}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	slices.Sort(want)

	const tok = "test-bootstrap-token"
	srv := api.NewServer(noBackend{}, tok, slog.New(slog.DiscardHandler))
	srv.SetGate(e.s)
	sock := filepath.Join(t.TempDir(), "api.sock")
	sctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- srv.Serve(sctx, sock, "off", func(string) { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("API stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("API not up after 30s")
	}
	cl := api.NewClient(sock, tok)
	pageOf := func(q url.Values) ([]api.UserInfo, string, error) {
		var page []api.UserInfo
		next, err := cl.Page(context.Background(), "/v1/users?"+q.Encode(), &page)
		return page, next, err
	}

	got, pages := nodetest.ReadPages(t, 2, 5, func(cursor string) ([]string, string, error) {
		page, next, err := pageOf(url.Values{"limit": {"2"}, "cursor": {cursor}})
		var keys []string
		for _, u := range page {
			keys = append(keys, u.Name)
		}
		return keys, next, err
	})
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}
	for _, bad := range []string{"nonsense", "AQIDBAUGBw"} {
		_, _, err := pageOf(url.Values{"cursor": {bad}})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalid || ae.Status != http.StatusUnprocessableEntity || !errors.Is(err, court.ErrInvalid) {
			t.Errorf("cursor %q: %v, want invalid (422)", bad, err)
		}
	}
	for _, l := range []string{"0", fmt.Sprint(api.MaxPage + 1)} {
		_, _, err := pageOf(url.Values{"limit": {l}})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalid || ae.Status != http.StatusBadRequest {
			t.Errorf("limit %s: %v, want a bad request", l, err)
		}
	}
	if _, _, err := pageOf(url.Values{"page": {"2"}}); err == nil {
		t.Error("an unknown query parameter was accepted")
	}
}
