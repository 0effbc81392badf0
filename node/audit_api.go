package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage"
)

// auditPage is how many audit entries are read from the store at once:
// exports and verification stream the log, which may hold millions.
const auditPage = 4096

// AuditExport describes an export of the audit log.
type AuditExport struct {
	Entries uint64 `json:"entries"`
	First   uint64 `json:"first"` // sequence of the first entry exported (0: none)
	Last    uint64 `json:"last"`
	// Prev is the hash the first entry links to: "" when the export starts
	// at entry 1; otherwise the head of entry First-1, to check against a
	// head witnessed by the mesh or an earlier export.
	Prev string `json:"prev"`
}

// ExportAudit writes the entries of db's audit log from the first one at
// or after from to the last one before the first at or after to, as JSON
// lines (one storage.AuditEntry a line). The range is contiguous, so that
// `courtmesh audit verify --file` can check every link in it; a zero from
// or to leaves that end open.
func ExportAudit(w io.Writer, db *storage.DB, from, to time.Time) (AuditExport, error) {
	var res AuditExport
	enc := json.NewEncoder(w)
	started := false
	err := eachAuditEntry(db, func(e storage.AuditEntry) (bool, error) {
		if !started {
			if !from.IsZero() && e.Time.Before(from) {
				return true, nil
			}
			started, res.First, res.Prev = true, e.Seq, e.Prev
		}
		if !to.IsZero() && !e.Time.Before(to) {
			return false, nil
		}
		if err := enc.Encode(e); err != nil {
			return false, err
		}
		res.Entries++
		res.Last = e.Seq
		return true, nil
	})
	return res, err
}

// eachAuditEntry calls f with every stored audit entry in key order until f
// returns false or an error.
func eachAuditEntry(db *storage.DB, f func(storage.AuditEntry) (bool, error)) error {
	for next := uint64(1); ; {
		page, err := db.AuditEntries(next, next+auditPage-1)
		if err != nil {
			return fmt.Errorf("read the audit log from entry %d: %w", next, err)
		}
		if len(page) == 0 {
			// The end, or a gap of a page or more (entries removed): read
			// whatever follows, so that the gap cannot hide the rest.
			if page, err = db.AuditEntries(next, math.MaxUint64); err != nil {
				return fmt.Errorf("read the audit log from entry %d: %w", next, err)
			}
			if len(page) == 0 {
				return nil
			}
		}
		for _, e := range page {
			more, err := f(e)
			if err != nil || !more {
				return err
			}
		}
		last := page[len(page)-1].Seq
		if last < next || last == math.MaxUint64 {
			return nil // a rewritten sequence number; the caller's checks name it
		}
		next = last + 1
	}
}

// AuditChecker checks a stream of audit entries, in order, link by link:
// a whole log (from entry 1) or an export that starts mid-chain. The zero
// value checks an export and accepts whatever its first entry links to;
// Prev, if set before the first Add, is the hash that entry must link to.
type AuditChecker struct {
	// Prev is the hash the first entry must link to ("" for a whole log
	// when FromStart is set).
	Prev string
	// FromStart requires the first entry to be entry 1 (a whole log).
	FromStart bool
	// Witnessed maps entry sequences to hashes witnessed elsewhere (a
	// heartbeat, an earlier export): an entry with another hash was
	// rewritten and the chain recomputed after it.
	Witnessed map[uint64]string

	started  bool
	first    uint64
	firstPre string
	last     uint64
	head     string
	count    uint64
}

// Add checks the next entry. Its error names the first broken entry, as
// storage.VerifyAudit does; after an error the checker must not be reused.
func (c *AuditChecker) Add(e storage.AuditEntry) error {
	if !c.started {
		if c.FromStart && e.Seq != 1 {
			return fmt.Errorf("audit entry 1: missing (the log starts at entry %d; entries were removed)", e.Seq)
		}
		if (c.FromStart || c.Prev != "") && e.Prev != c.Prev {
			return fmt.Errorf("audit entry %d: link to the previous entry is broken (links to %q, expected %q)", e.Seq, e.Prev, c.Prev)
		}
		c.started, c.first, c.firstPre, c.head = true, e.Seq, e.Prev, e.Prev
	} else if e.Seq != c.last+1 {
		return fmt.Errorf("audit entry %d: expected sequence %d (an entry was removed or reordered)", e.Seq, c.last+1)
	}
	if _, err := storage.VerifyAudit([]storage.AuditEntry{e}, c.head); err != nil {
		return err
	}
	if w, ok := c.Witnessed[e.Seq]; ok && w != e.Hash {
		return fmt.Errorf("audit entry %d: hash %s differs from the witnessed %s (history rewritten and the chain recomputed)", e.Seq, e.Hash, w)
	}
	c.last, c.head = e.Seq, e.Hash
	c.count++
	return nil
}

// Result summarises what was checked: the number of entries, the first
// and last sequence, what the first links to and the head.
func (c *AuditChecker) Result() (count, first, last uint64, prev, head string) {
	return c.count, c.first, c.last, c.firstPre, c.head
}

// Done checks what can only be checked at the end: a whole log holds
// every witnessed entry.
func (c *AuditChecker) Done() error {
	if !c.FromStart {
		return nil
	}
	if !c.started {
		c.started = true // an empty log
	}
	for seq := range c.Witnessed {
		if seq > c.last {
			return fmt.Errorf("audit entry %d: witnessed but missing (the log ends at entry %d; entries were removed)", seq, c.last)
		}
	}
	return nil
}

// VerifyStoredAudit checks db's whole audit log with c (FromStart is set),
// then its head record against the last entry.
func VerifyStoredAudit(db *storage.DB, c *AuditChecker) error {
	c.FromStart = true
	if err := eachAuditEntry(db, func(e storage.AuditEntry) (bool, error) { return true, c.Add(e) }); err != nil {
		return err
	}
	if err := c.Done(); err != nil {
		return err
	}
	seq, hash, err := db.AuditHead()
	if err != nil {
		return fmt.Errorf("audit head record: %w", err)
	}
	if seq != c.last || hash != c.head {
		return fmt.Errorf("audit entry %d: the head record names entry %d with hash %q, the log ends at entry %d with hash %q (entries removed or rewritten)",
			max(seq, c.last), seq, hash, c.last, c.head)
	}
	return nil
}

// ReadAuditExport feeds the JSON lines of an export to c.
func ReadAuditExport(r io.Reader, c *AuditChecker) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e storage.AuditEntry
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return fmt.Errorf("line %d of the export is not an audit entry: %v", line, err)
		}
		if err := c.Add(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the export after line %d: %w", line, err)
	}
	return c.Done()
}

// registerAuditAPI adds GET /v1/audit?from=RFC3339&to=RFC3339: the audit
// log (or a time range of it) as JSON lines. Each export is audited.
func (n *Node) registerAuditAPI() {
	n.api.Handle("GET /v1/audit", func(w http.ResponseWriter, r *http.Request) {
		var from, to time.Time
		for name, t := range map[string]*time.Time{"from": &from, "to": &to} {
			v := r.URL.Query().Get(name)
			if v == "" {
				continue
			}
			p, err := ParseAuditTime(v)
			if err != nil {
				api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%s: %v", name, err))
				return
			}
			*t = p
		}
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		bw := bufio.NewWriterSize(w, 64<<10)
		res, err := ExportAudit(bw, n.db, from, to)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			n.log.Warn("audit export failed", "reason", err)
			// Break the connection: a truncated export must not look whole.
			panic(http.ErrAbortHandler)
		}
		n.db.Audit(storage.AuditEntry{Event: "audit.exported", Outcome: "ok",
			Detail: fmt.Sprintf("entries %d..%d (%d) exported through the local API", res.First, res.Last, res.Entries)})
	})
}

// ParseAuditTime parses an export bound: RFC 3339, or a date (2006-01-02,
// the start of that day in China Standard Time).
func ParseAuditTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.FixedZone("CST", 8*3600)); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2025-03-01T08:00:00+08:00) or a date (2025-03-01)")
}
