package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage"
)

// memLog is an audit log in memory whose writes fail while fail is set:
// the failing audit writer the policy is tested with.
type memLog struct {
	mu      sync.Mutex
	entries []storage.AuditEntry
	fail    error
	synced  int // the entries appended by AuditSynced
}

var _ Store = (*memLog)(nil)

func (m *memLog) Audit(e storage.AuditEntry) (storage.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return storage.AuditEntry{}, m.fail
	}
	e.Seq = uint64(len(m.entries)) + 1
	if e.Time.IsZero() {
		e.Time = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(e.Seq) * time.Minute)
	}
	m.entries = append(m.entries, e)
	return e, nil
}

func (m *memLog) AuditSynced(e storage.AuditEntry) (storage.AuditEntry, error) {
	e, err := m.Audit(e)
	if err == nil {
		m.mu.Lock()
		m.synced++
		m.mu.Unlock()
	}
	return e, err
}

func (m *memLog) AuditEntries(from, to uint64) ([]storage.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.AuditEntry
	for _, e := range m.entries {
		if e.Seq >= from && e.Seq <= to {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memLog) AuditHead() (uint64, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) == 0 {
		return 0, "", nil
	}
	e := m.entries[len(m.entries)-1]
	return e.Seq, e.Hash, nil
}

func (m *memLog) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

func (m *memLog) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// errorCount counts the records at error level.
type errorCount struct {
	mu sync.Mutex
	n  int
}

func (c *errorCount) Enabled(context.Context, slog.Level) bool { return true }
func (c *errorCount) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return nil
}
func (c *errorCount) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *errorCount) WithGroup(string) slog.Handler      { return c }
func (c *errorCount) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// counted is the value of c.
func counted(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// series counts the series of the metric family name in reg.
func series(reg *prometheus.Registry, name string) (int, error) {
	mfs, err := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric()), err
		}
	}
	return 0, err
}

var errDiskFull = errors.New("no space left on device")

// TestPolicyFailingWriter: with a writer that fails, Before refuses
// (returns the error, counted, not logged) and After counts and logs at
// error level, and neither drops the error.
func TestPolicyFailingWriter(t *testing.T) {
	t.Parallel()
	ml := &memLog{fail: errDiskFull}
	ec := &errorCount{}
	reg := prometheus.NewRegistry()
	s, err := New(Deps{Store: ml, Log: slog.New(ec), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	e := storage.AuditEntry{Event: "test.event", Outcome: "ok"}
	if err := s.Before(e); !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "nothing was done") {
		t.Fatalf("Before with a failing writer: %v; want the writer's error, saying nothing was done", err)
	}
	if got := counted(s.failures.WithLabelValues("test.event", "refused")); got != 1 {
		t.Fatalf("refused failures counted: %v; want 1", got)
	}
	if ec.count() != 0 {
		t.Fatalf("Before logged its failure (%d records); the caller returns it instead", ec.count())
	}
	if err := s.After(e); !errors.Is(err, errDiskFull) {
		t.Fatalf("After with a failing writer: %v; want the writer's error", err)
	}
	if got := counted(s.failures.WithLabelValues("test.event", "done")); got != 1 {
		t.Fatalf("done failures counted: %v; want 1", got)
	}
	if ec.count() != 1 {
		t.Fatalf("After logged %d records at error level; want 1", ec.count())
	}
	if n, err := series(reg, "courtmesh_audit_write_failures_total"); err != nil || n != 2 {
		t.Fatalf("the registry shows %d failure series (%v); want 2", n, err)
	}
	// The same counter cannot be registered twice: New says so.
	if _, err := New(Deps{Store: ml, Registerer: reg}); err == nil {
		t.Fatal("a second audit service registered the same counter")
	}
	ml.setFail(nil)
	if err := s.Before(e); err != nil || ml.len() != 1 {
		t.Fatalf("Before with a working writer: %v, %d entries; want 1", err, ml.len())
	}
	// Before waits for the disk; After does not.
	if err := s.After(e); err != nil || ml.len() != 2 || ml.synced != 1 {
		t.Fatalf("Before then After: %v, %d entries, %d synced; want 2 entries, the first synced", err, ml.len(), ml.synced)
	}
}

type noBackend struct{}

func (noBackend) Status() api.Status { return api.Status{} }
func (noBackend) Peers() []api.Peer  { return nil }
func (noBackend) InstallBundle(context.Context, []byte, []byte) (api.InstallResult, error) {
	return api.InstallResult{}, nil
}

// TestExportRouteAudit: GET /v1/audit audits each export after it; when
// that entry cannot be written the response is broken off, so the client
// does not take the export as whole, and the failure is counted.
func TestExportRouteAudit(t *testing.T) {
	t.Parallel()
	ml := &memLog{}
	for range 3 {
		ml.Audit(storage.AuditEntry{Event: "test.event", Outcome: "ok"})
	}
	s, err := New(Deps{Store: ml, Log: slog.New(&errorCount{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(noBackend{}, "tok", slog.New(slog.DiscardHandler))
	api.RegisterAudit(srv, s)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	get := func() (int, []byte, error) {
		req, _ := http.NewRequest("GET", hs.URL+"/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer tok")
		// A fresh connection each time: a broken reused one would be
		// retried by the transport, exporting twice.
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	code, b, err := get()
	if err != nil || code != 200 || bytes.Count(b, []byte("\n")) != 3 {
		t.Fatalf("export: %d, %d lines, %v; want 200 and 3 lines", code, bytes.Count(b, []byte("\n")), err)
	}
	if ml.len() != 4 || ml.entries[3].Event != "audit.exported" || !strings.Contains(ml.entries[3].Detail, "entries 1..3 (3) exported through the local API") {
		t.Fatalf("after the export the log holds %d entries, the last %+v; want the audit.exported entry", ml.len(), ml.entries[len(ml.entries)-1])
	}

	ml.setFail(errDiskFull)
	if code, b, err := get(); err == nil {
		t.Fatalf("export whose audit entry failed: %d, %d bytes, no error; want the response broken off", code, len(b))
	}
	if got := counted(s.failures.WithLabelValues("audit.exported", "done")); got != 1 {
		t.Fatalf("failed audit.exported counted %v times; want 1", got)
	}
}
