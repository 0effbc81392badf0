package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/node/api"
)

// WebhookVersion is the version of the JSON a webhook receives.
const WebhookVersion = 1

// WebhookPayload is what the webhook receives: one new alert per POST.
type WebhookPayload struct {
	Version int       `json:"version"`
	Court   string    `json:"court"`   // the node that raised it
	SentAt  time.Time `json:"sent_at"` // first attempt
	Alert   api.Alert `json:"alert"`
}

// WebhookOptions tune a Webhook; zero fields take the defaults.
type WebhookOptions struct {
	// Court is the sending node's court code, put in every payload.
	Court string
	// QueueSize bounds the alerts waiting for delivery; when full the
	// oldest is dropped (and sent again if it is still raised at the next
	// Notify). Default 256.
	QueueSize int
	// MinBackoff and MaxBackoff bound the wait between attempts, doubled
	// after each failure. Defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how often one alert is tried before it is dropped
	// (and sent again if still raised at the next Notify). Default 8.
	MaxAttempts int
	// Client sends the requests; default a client with a 10 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Webhook posts new alerts to a URL. Notify hands it the alerts raised
// now; each alert is sent once while it stays raised (deduplicated by
// AlertKey), in order, one at a time, retried with exponential backoff on
// network errors, 5xx, 408 and 429; other answers are final. Serve runs
// the sender. Methods are safe for concurrent use.
type Webhook struct {
	url  string
	opts WebhookOptions

	mu      sync.Mutex
	active  map[string]bool // keys raised at the last Notify and queued or sent
	queue   []queued
	wake    chan struct{}
	sent    int
	dropped int
	failed  int
}

type queued struct {
	key   string
	alert api.Alert
}

// ParseWebhookURL checks a webhook URL: absolute http or https.
func ParseWebhookURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("webhook_url %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook_url %q: want an absolute http:// or https:// URL", s)
	}
	return u, nil
}

// NewWebhook returns a webhook for rawURL.
func NewWebhook(rawURL string, o WebhookOptions) (*Webhook, error) {
	if _, err := ParseWebhookURL(rawURL); err != nil {
		return nil, err
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{url: rawURL, opts: o, active: map[string]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Notify takes the alerts raised now and queues those not raised at the
// previous call. An alert that is no longer raised is forgotten, so that
// it is sent again if it comes back.
func (w *Webhook) Notify(alerts []api.Alert) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := make(map[string]bool, len(alerts))
	dropped := map[string]bool{}
	for _, a := range alerts {
		k := AlertKey(a)
		if now[k] {
			continue
		}
		now[k] = true
		if w.active[k] {
			continue
		}
		if len(w.queue) == w.opts.QueueSize {
			old := w.queue[0]
			w.queue = w.queue[1:]
			dropped[old.key] = true
			w.dropped++
			w.opts.Logger.Warn("webhook queue full: dropped the oldest alert; it is queued again while it stays raised", "kind", old.alert.Kind, "court", old.alert.Court)
		}
		w.queue = append(w.queue, queued{key: k, alert: a})
	}
	for k := range dropped {
		delete(now, k) // queued again at the next call while still raised
	}
	w.active = now
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// WebhookStats counts deliveries.
type WebhookStats struct {
	Queued  int // waiting now
	Sent    int // delivered (2xx)
	Dropped int // dropped from a full queue
	Failed  int // given up after MaxAttempts or a final refusal
}

// Stats returns the delivery counts.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WebhookStats{Queued: len(w.queue), Sent: w.sent, Dropped: w.dropped, Failed: w.failed}
}

// Serve delivers queued alerts until ctx ends. The alert being delivered
// has left the queue: a full queue never drops it.
func (w *Webhook) Serve(ctx context.Context) error {
	for {
		w.mu.Lock()
		var next queued
		ok := len(w.queue) > 0
		if ok {
			next = w.queue[0]
			w.queue = w.queue[1:]
		}
		w.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-w.wake:
				continue
			}
		}
		err := w.deliver(ctx, next)
		if ctx.Err() != nil {
			return nil
		}
		w.mu.Lock()
		if err != nil {
			w.failed++
			delete(w.active, next.key) // queued again at the next Notify while still raised
			w.opts.Logger.Warn("webhook: alert not delivered; it is sent again while it stays raised", "kind", next.alert.Kind, "court", next.alert.Court, "reason", err)
		} else {
			w.sent++
		}
		w.mu.Unlock()
	}
}

// errFinal marks an answer that retrying cannot change.
var errFinal = errors.New("refused")

// deliver posts one alert, retrying with backoff.
func (w *Webhook) deliver(ctx context.Context, q queued) error {
	body, err := json.Marshal(WebhookPayload{Version: WebhookVersion, Court: w.opts.Court, SentAt: w.opts.Now().UTC(), Alert: q.alert})
	if err != nil {
		return err
	}
	wait := w.opts.MinBackoff
	var last error
	for attempt := 1; attempt <= w.opts.MaxAttempts; attempt++ {
		if last = w.post(ctx, body); last == nil || errors.Is(last, errFinal) {
			return last
		}
		if attempt == w.opts.MaxAttempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, w.opts.MaxBackoff)
	}
	return fmt.Errorf("after %d attempts: %w", w.opts.MaxAttempts, last)
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errFinal, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "courtmesh-alerts/1")
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return fmt.Errorf("%w: webhook answered %s", errFinal, resp.Status)
}
