package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeBackend records what reaches it.
type fakeBackend struct {
	mu      sync.Mutex
	pushed  [][]byte
	heads   [][]byte
	install error
}

func (f *fakeBackend) Status() Status { return Status{CourtCode: "京0105", PeerID: "12D3KooTest"} }
func (f *fakeBackend) Peers() []Peer  { return []Peer{{PeerID: "12D3KooPeer", CourtCode: "京01"}} }
func (f *fakeBackend) InstallBundle(_ context.Context, raw, head []byte) (InstallResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushed = append(f.pushed, raw)
	f.heads = append(f.heads, head)
	if f.install != nil {
		return InstallResult{}, f.install
	}
	return InstallResult{Installed: true, Sequence: 2}, nil
}

func (f *fakeBackend) pushes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pushed)
}

var _ Backend = (*fakeBackend)(nil)

func newTestServer(t *testing.T) (*httptest.Server, *fakeBackend) {
	t.Helper()
	be := &fakeBackend{}
	ts := httptest.NewServer(NewServer(be, testToken, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	return ts, be
}

// errorBody decodes a JSON error answer.
func errorBody(t *testing.T, resp *http.Response) (*Error, string) {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var eb struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(raw, &eb); err != nil || eb.Error == nil {
		t.Fatalf("error body %q is not {\"error\": {...}}: %v", raw, err)
	}
	return eb.Error, string(raw)
}

func TestAuth(t *testing.T) {
	ts, _ := newTestServer(t)
	tests := []struct {
		name   string
		header string // Authorization; "" means none
		want   int
	}{
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"no header", "", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"wrong token", "Bearer " + strings.Repeat("f", len(testToken)), http.StatusUnauthorized},
		{"prefix of the token", "Bearer " + testToken[:32], http.StatusUnauthorized},
		{"token with a suffix", "Bearer " + testToken + "0", http.StatusUnauthorized},
		{"token without scheme", testToken, http.StatusUnauthorized},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized},
	}
	for _, path := range []string{"/v1/status", "/v1/peers"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				req, err := http.NewRequest("GET", ts.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
				}
				if tt.want == http.StatusOK {
					raw, _ := io.ReadAll(resp.Body)
					if !strings.Contains(string(raw), "京0") {
						t.Errorf("body = %s, want the backend's answer", raw)
					}
					return
				}
				e, raw := errorBody(t, resp)
				if e.Code != CodeUnauthorised {
					t.Errorf("code = %q, want %q", e.Code, CodeUnauthorised)
				}
				if strings.Contains(raw, testToken) || strings.Contains(raw, testToken[:16]) {
					t.Errorf("the error body leaks the token: %s", raw)
				}
			})
		}
	}
}

// An unauthenticated push never reaches the backend.
func TestUnauthenticatedPushNeverReachesBackend(t *testing.T) {
	ts, be := newTestServer(t)
	for _, auth := range []string{"", "Bearer nope"} {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/trust/bundle", strings.NewReader("bundle"))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("auth %q: status = %d, want 401", auth, resp.StatusCode)
		}
	}
	if n := be.pushes(); n != 0 {
		t.Errorf("%d unauthenticated pushes reached the backend", n)
	}
}

func TestBundlePushSize(t *testing.T) {
	ts, be := newTestServer(t)
	push := func(size int64) *http.Response {
		t.Helper()
		body := io.LimitReader(zeros{}, size)
		req, err := http.NewRequest("POST", ts.URL+"/v1/trust/bundle", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// Control: a bundle of exactly the limit reaches the backend whole.
	if resp := push(MaxBundleBody); resp.StatusCode != http.StatusOK {
		t.Fatalf("a push of exactly %d bytes: status %d, want 200", MaxBundleBody, resp.StatusCode)
	}
	if n := be.pushes(); n != 1 || len(be.pushed[0]) != MaxBundleBody {
		t.Fatalf("backend got %d pushes, want 1 of %d bytes", n, MaxBundleBody)
	}
	resp := push(MaxBundleBody + 1)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a push of %d bytes: status %d, want 413", MaxBundleBody+1, resp.StatusCode)
	}
	if e, _ := errorBody(t, resp); e.Code != CodeTooLarge {
		t.Errorf("code = %q, want %q", e.Code, CodeTooLarge)
	}
	if n := be.pushes(); n != 1 {
		t.Errorf("an oversized push reached the backend (%d pushes)", n)
	}
}

// TestBundlePushHead: the client sends a whole bundle's head in
// BundleHeadHeader and the backend gets it decoded; a push without it
// (clients before it) reaches the backend with no head; a header that is
// not base64 is refused as invalid before the backend.
func TestBundlePushHead(t *testing.T) {
	ts, be := newTestServer(t)
	cl := &Client{token: testToken, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ts.Listener.Addr().String())
		}}}}
	head := []byte{0, 1, 2, 0xfe, 0xff, '+', '/'}
	if _, err := cl.PushBundle(context.Background(), []byte("bundle"), head); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PushBundle(context.Background(), []byte("bundle"), nil); err != nil {
		t.Fatal(err)
	}
	if n := be.pushes(); n != 2 || !bytes.Equal(be.heads[0], head) || be.heads[1] != nil {
		t.Fatalf("backend got %d pushes with heads %q, want 2: the head sent, then none", n, be.heads)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/v1/trust/bundle", strings.NewReader("bundle"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set(BundleHeadHeader, "not base64!")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if e, _ := errorBody(t, resp); resp.StatusCode != http.StatusBadRequest || e.Code != CodeInvalid || !errors.Is(e, court.ErrInvalid) {
		t.Errorf("a head that is not base64: %d %+v, want 400 invalid", resp.StatusCode, e)
	}
	if n := be.pushes(); n != 2 {
		t.Errorf("a push with a head that is not base64 reached the backend (%d pushes)", n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A backend error the caller can act on keeps its status and code; any
// other error is a 500 "internal".
func TestBackendErrors(t *testing.T) {
	ts, be := newTestServer(t)
	cl := &Client{hc: ts.Client(), token: testToken}
	do := func() error {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/trust/bundle", bytes.NewReader([]byte("x")))
		req.Header.Set("Authorization", "Bearer "+cl.token)
		resp, err := cl.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		e, _ := errorBody(t, resp)
		e.Status = resp.StatusCode
		return e
	}
	be.install = Errorf(http.StatusBadRequest, CodeInvalid, "trust bundle refused: bad signature")
	var e *Error
	if err := do(); !errors.As(err, &e) || e.Status != 400 || e.Code != CodeInvalid || !strings.Contains(e.Message, "bad signature") {
		t.Errorf("got %+v, want 400 invalid", err)
	}
	be.install = errors.New("disk full")
	if err := do(); !errors.As(err, &e) || e.Status != 500 || e.Code != CodeInternal {
		t.Errorf("got %+v, want 500 internal", err)
	}
}

// serve runs Server.Serve on a socket in a temporary directory and
// returns the bound TCP address once ready.
func serve(t *testing.T, tcpAddr string) (socket, bound string, stop func() error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cmapi") // short: a Unix socket path is limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket = filepath.Join(dir, "api.sock")
	s := NewServer(&fakeBackend{}, testToken, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, socket, tcpAddr, func(tcp string) { ready <- tcp }) }()
	select {
	case bound = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Serve(%q) = %v before it was ready", tcpAddr, err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("Serve not ready after 20s")
	}
	var once sync.Once
	var serr error
	stop = func() error {
		once.Do(func() { cancel(); serr = <-done })
		return serr
	}
	t.Cleanup(func() { stop() })
	return socket, bound, stop
}

func TestServeRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:0", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "cmapi")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			socket := filepath.Join(dir, "api.sock")
			s := NewServer(&fakeBackend{}, testToken, slog.New(slog.DiscardHandler))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			called := false
			// Serving at all is the failure: stop at once.
			err = s.Serve(ctx, socket, addr, func(string) { called = true; cancel() })
			if called {
				t.Fatalf("Serve(%q) served", addr)
			}
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Serve(%q) = %v (ctx %v), want a refusal", addr, err, ctx.Err())
			}
			if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the socket was left behind: %v", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestServeLoopbackAndSocket(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "off"} {
		t.Run(addr, func(t *testing.T) {
			socket, bound, stop := serve(t, addr)
			st, err := os.Stat(socket)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("socket mode %v, want 0600", st.Mode().Perm())
			}
			// Over the socket, with the client the CLI uses.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var got Status
			if err := NewClient(socket, testToken).Do(ctx, "GET", "/v1/status", nil, &got); err != nil || got.CourtCode != "京0105" {
				t.Fatalf("status over the socket = %+v, %v", got, err)
			}
			err = NewClient(socket, "wrong").Do(ctx, "GET", "/v1/status", nil, nil)
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != CodeUnauthorised {
				t.Errorf("wrong token over the socket: %v, want 401 unauthorised", err)
			}
			// Over TCP, on loopback only.
			if addr == "off" {
				if bound != "" {
					t.Errorf("api_listen off bound %q", bound)
				}
			} else {
				if !strings.HasPrefix(bound, "127.0.0.1:") && !strings.HasPrefix(bound, "[::1]:") {
					t.Errorf("bound %q, want a loopback address", bound)
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+bound+"/v1/peers", nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("peers over TCP: %d", resp.StatusCode)
				}
			}
			if err := stop(); err != nil {
				t.Errorf("Serve returned %v after its context ended", err)
			}
			if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the socket outlived Serve: %v", err)
			}
			err = NewClient(socket, testToken).Do(ctx, "GET", "/v1/status", nil, nil)
			if !errors.Is(err, ErrNodeNotRunning) {
				t.Errorf("after Serve: %v, want ErrNodeNotRunning", err)
			}
		})
	}
}
