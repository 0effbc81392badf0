package audit

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage"
)

// Writer appends an entry to the audit log, returning it as written
// (sequence, link and hash set); *storage.DB implements it. Appends are
// serialised by the writer. AuditSynced returns only once the entry is on
// disk (concurrent callers share a sync); Audit may return while it is
// still in the page cache.
type Writer interface {
	Audit(e storage.AuditEntry) (storage.AuditEntry, error)
	AuditSynced(e storage.AuditEntry) (storage.AuditEntry, error)
}

// Store is the audit log read and written; *storage.DB implements it.
type Store interface {
	Reader
	Writer
}

var _ Store = (*storage.DB)(nil)

// Deps is what the audit service is built from.
type Deps struct {
	// Store is the audit log (required): the node's store.
	Store Store
	// Log receives the failures to write an entry after the fact, at
	// error level; nil discards them.
	Log *slog.Logger
	// Registerer, if not nil, receives the failure counter
	// (courtmesh_audit_write_failures_total).
	Registerer prometheus.Registerer
}

// Service is the audit log as the node uses it: exports for the local
// API, and the two ways to append an entry that the policy (see the
// package comment) allows, Before and After. It is safe for concurrent
// use.
type Service struct {
	store    Store
	log      *slog.Logger
	failures *prometheus.CounterVec
}

var _ api.AuditService = (*Service)(nil)

// Policy is how the rooms write the audit log (Service implements it):
// Before for an action not yet done (the caller refuses the action if it
// fails), After for one already done (a failure is counted and logged
// there).
type Policy interface {
	Before(e storage.AuditEntry) error
	After(e storage.AuditEntry) error
}

var _ Policy = (*Service)(nil)

// New returns the audit service over d.Store. It fails only if the
// counter cannot be registered (registered twice on d.Registerer).
func New(d Deps) (*Service, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: d.Store, log: d.Log, failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "courtmesh_audit_write_failures_total",
		Help: "Audit entries that could not be written, by event and by what followed: refused (the action was not done) or done (the action had happened; logged at error level).",
	}, []string{"event", "action"})}
	if d.Registerer != nil {
		if err := d.Registerer.Register(s.failures); err != nil {
			return nil, fmt.Errorf("audit: register the failure counter: %w", err)
		}
	}
	return s, nil
}

// Before appends e for an action not yet done and returns once it is on
// disk (storage.DB.AuditSynced), so that no power cut loses the record of
// an action that went ahead. If the entry cannot be written or synced the
// failure is counted and the error returned: the caller refuses the
// action (does nothing) and returns the error, which says so. It is not
// logged here.
func (s *Service) Before(e storage.AuditEntry) error {
	if _, err := s.store.AuditSynced(e); err != nil {
		s.failures.WithLabelValues(e.Event, "refused").Inc()
		return fmt.Errorf("the audit entry %s cannot be written, so nothing was done (the audit log is evidence; check the store's disk): %w", e.Event, err)
	}
	return nil
}

// After appends e for an action that has already happened and cannot be
// undone. If the entry cannot be written the failure is counted
// (courtmesh_audit_write_failures_total{action="done"}) and logged at
// error level here; the error is returned so that the caller can withhold
// what is still its to withhold, and must not be logged again.
func (s *Service) After(e storage.AuditEntry) error {
	if _, err := s.store.Audit(e); err != nil {
		s.failures.WithLabelValues(e.Event, "done").Inc()
		s.log.Error("an audit entry could not be written after the action it records", "event", e.Event, "outcome", e.Outcome, "transfer", e.Transfer, "reason", err)
		return fmt.Errorf("the audit entry %s cannot be written: %w", e.Event, err)
	}
	return nil
}

// ExportedEntry is the audit.exported entry of the export res, made via
// ("through the local API", "from the stopped node's store").
func ExportedEntry(res api.AuditExport, via string) storage.AuditEntry {
	return storage.AuditEntry{Event: "audit.exported", Outcome: "ok",
		Detail: fmt.Sprintf("entries %d..%d (%d) exported %s", res.First, res.Last, res.Entries, via)}
}

// ExportAudit implements api.AuditService: WriteExport of the store.
func (s *Service) ExportAudit(w io.Writer, from, to time.Time) (api.AuditExport, error) {
	return WriteExport(w, s.store, from, to)
}

// AuditExported implements api.AuditService: the export has gone out, so
// its entry is written After.
func (s *Service) AuditExported(res api.AuditExport, via string) error {
	return s.After(ExportedEntry(res, via))
}

// ParseAuditTime implements api.AuditService with ParseTime.
func (s *Service) ParseAuditTime(v string) (time.Time, error) { return ParseTime(v) }
