package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage"
)

// pageSize is how many audit entries are read from the store at once:
// exports and verification stream the log, which may hold millions.
const pageSize = 4096

// WriteExport writes the entries of db's audit log from the first one at
// or after from to the last one before the first at or after to, as JSON
// lines (one storage.AuditEntry a line). The range is contiguous, so that
// `courtmesh audit verify --file` can check every link in it; a zero from
// or to leaves that end open.
func WriteExport(w io.Writer, db Reader, from, to time.Time) (api.AuditExport, error) {
	var res api.AuditExport
	enc := json.NewEncoder(w)
	started := false
	err := eachEntry(db, func(e storage.AuditEntry) (bool, error) {
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

// Reader is the audit log as stored, read in order; *storage.DB
// implements it.
type Reader interface {
	// AuditEntries returns the entries with sequence from to to
	// (inclusive) that are stored, in order.
	AuditEntries(from, to uint64) ([]storage.AuditEntry, error)
	// AuditHead returns the sequence and hash of the newest entry.
	AuditHead() (uint64, string, error)
}

var _ Reader = (*storage.DB)(nil)

// eachEntry calls f with every stored audit entry in key order until f
// returns false or an error.
func eachEntry(db Reader, f func(storage.AuditEntry) (bool, error)) error {
	for next := uint64(1); ; {
		page, err := db.AuditEntries(next, next+pageSize-1)
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

// Checker checks a stream of audit entries, in order, link by link:
// a whole log (from entry 1) or an export that starts mid-chain. The zero
// value checks an export and accepts whatever its first entry links to;
// Prev, if set before the first Add, is the hash that entry must link to.
type Checker struct {
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
func (c *Checker) Add(e storage.AuditEntry) error {
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
func (c *Checker) Result() (count, first, last uint64, prev, head string) {
	return c.count, c.first, c.last, c.firstPre, c.head
}

// Done checks what can only be checked at the end: a whole log holds
// every witnessed entry.
func (c *Checker) Done() error {
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

// VerifyStored checks db's whole audit log with c (FromStart is set),
// then its head record against the last entry.
func VerifyStored(db Reader, c *Checker) error {
	c.FromStart = true
	if err := eachEntry(db, func(e storage.AuditEntry) (bool, error) { return true, c.Add(e) }); err != nil {
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

// ReadExport feeds the JSON lines of an export to c.
func ReadExport(r io.Reader, c *Checker) error {
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

// ParseTime parses an export bound: RFC 3339, or a date (2006-01-02,
// the start of that day in China Standard Time).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.FixedZone("CST", 8*3600)); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2025-03-01T08:00:00+08:00) or a date (2025-03-01)")
}
