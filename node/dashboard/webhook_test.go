package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/node/api"
)

// hook is a webhook receiver on loopback that fails the first failures
// requests with status.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	status   int
	attempts int
	got      []WebhookPayload
	arrived  chan struct{}
}

func newHook(t *testing.T, failures, status int) *hook {
	h := &hook{failures: failures, status: status, arrived: make(chan struct{}, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.attempts++
		if h.failures > 0 {
			h.failures--
			w.WriteHeader(h.status)
			return
		}
		var p WebhookPayload
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" || json.NewDecoder(r.Body).Decode(&p) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.got = append(h.got, p)
		h.arrived <- struct{}{}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) payloads() []WebhookPayload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]WebhookPayload(nil), h.got...)
}

// waitStats polls the webhook's counts until cond holds (deadline 10 s).
func waitStats(t *testing.T, w *Webhook, what string, cond func(WebhookStats) bool) WebhookStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := w.Stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, s)
		}
		select {
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func serve(t *testing.T, w *Webhook) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func alert(i int) api.Alert {
	return api.Alert{Kind: "acceptance_overdue", Severity: "warning", Court: "京0108", Transfer: fmt.Sprintf("t%d", i), Message: fmt.Sprintf("alert %d", i)}
}

func TestWebhookDeduplicatesAndRetries(t *testing.T) {
	h := newHook(t, 2, http.StatusServiceUnavailable)
	w, err := NewWebhook(h.URL, WebhookOptions{Court: "最高法", MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, w)
	w.Notify([]api.Alert{alert(1), alert(2), alert(1)})
	waitStats(t, w, "two deliveries", func(s WebhookStats) bool { return s.Sent == 2 })
	// Still raised: nothing new to send.
	w.Notify([]api.Alert{alert(2), alert(1)})
	w.Notify([]api.Alert{alert(1), alert(2), alert(3)})
	s := waitStats(t, w, "the third alert", func(s WebhookStats) bool { return s.Sent == 3 })
	if s.Failed != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
	got := h.payloads()
	if len(got) != 3 || got[0].Alert.Transfer != "t1" || got[1].Alert.Transfer != "t2" || got[2].Alert.Transfer != "t3" {
		t.Fatalf("received %+v", got)
	}
	if got[0].Version != WebhookVersion || got[0].Court != "最高法" || got[0].SentAt.IsZero() {
		t.Errorf("payload %+v", got[0])
	}
	h.mu.Lock()
	attempts := h.attempts
	h.mu.Unlock()
	if attempts != 5 {
		t.Errorf("%d requests, want 5 (2 refused with 503, then 3 deliveries)", attempts)
	}
	// Cleared, then raised again: sent again.
	w.Notify([]api.Alert{alert(3)})
	w.Notify([]api.Alert{alert(1), alert(3)})
	waitStats(t, w, "the alert raised again", func(s WebhookStats) bool { return s.Sent == 4 })
	if p := h.payloads(); p[3].Alert.Transfer != "t1" {
		t.Errorf("fourth delivery %+v", p[3])
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Run("after MaxAttempts", func(t *testing.T) {
		h := newHook(t, 1000, http.StatusBadGateway)
		w, _ := NewWebhook(h.URL, WebhookOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxAttempts: 3})
		serve(t, w)
		w.Notify([]api.Alert{alert(1)})
		waitStats(t, w, "the alert given up", func(s WebhookStats) bool { return s.Failed == 1 })
		h.mu.Lock()
		if h.attempts != 3 {
			t.Errorf("%d attempts, want 3", h.attempts)
		}
		h.failures = 0
		h.mu.Unlock()
		// Given up, but still raised: the next evaluation sends it again.
		w.Notify([]api.Alert{alert(1)})
		waitStats(t, w, "the alert sent again", func(s WebhookStats) bool { return s.Sent == 1 })
	})
	t.Run("at once on a final refusal", func(t *testing.T) {
		h := newHook(t, 1000, http.StatusForbidden)
		w, _ := NewWebhook(h.URL, WebhookOptions{MinBackoff: time.Millisecond, MaxAttempts: 5})
		serve(t, w)
		w.Notify([]api.Alert{alert(1)})
		waitStats(t, w, "the alert refused", func(s WebhookStats) bool { return s.Failed == 1 })
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.attempts != 1 {
			t.Errorf("%d attempts after a 403, want 1", h.attempts)
		}
	})
}

func TestWebhookQueueBounded(t *testing.T) {
	h := newHook(t, 0, 0)
	w, _ := NewWebhook(h.URL, WebhookOptions{QueueSize: 2, MinBackoff: time.Millisecond})
	// Not serving yet: the queue fills, the oldest go.
	w.Notify([]api.Alert{alert(1), alert(2), alert(3), alert(4), alert(5)})
	if s := w.Stats(); s.Queued != 2 || s.Dropped != 3 {
		t.Fatalf("stats %+v, want 2 queued and 3 dropped", s)
	}
	serve(t, w)
	waitStats(t, w, "the queue drained", func(s WebhookStats) bool { return s.Sent == 2 })
	if p := h.payloads(); p[0].Alert.Transfer != "t4" || p[1].Alert.Transfer != "t5" {
		t.Errorf("delivered %v %v, want the newest two", p[0].Alert.Transfer, p[1].Alert.Transfer)
	}
	// The dropped ones are still raised: the next evaluations queue them
	// again, until each alert was delivered once.
	all := []api.Alert{alert(1), alert(2), alert(3), alert(4), alert(5)}
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().Sent < 5 || w.Stats().Queued > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not every alert delivered: %+v", w.Stats())
		}
		w.Notify(all)
		waitStats(t, w, "the queue drained", func(s WebhookStats) bool { return s.Queued == 0 })
	}
	w.Notify(all)
	s := w.Stats()
	seen := map[string]int{}
	for _, p := range h.payloads() {
		seen[p.Alert.Transfer]++
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("alert %s delivered %d times", k, c)
		}
	}
	if len(seen) != 5 || s.Sent != 5 || s.Queued != 0 {
		t.Errorf("delivered %v (%+v), want each of the 5 alerts once", seen, s)
	}
}

func TestParseWebhookURL(t *testing.T) {
	for s, ok := range map[string]bool{"https://ops.court/alerts": true, "http://10.1.2.3:8080/x": true, "ftp://x/y": false, "/relative": false, "https://": false, "::": false} {
		if _, err := ParseWebhookURL(s); (err == nil) != ok {
			t.Errorf("ParseWebhookURL(%q): %v", s, err)
		}
	}
}
