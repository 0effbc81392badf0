package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// The stored transfer and its indexes.
//
// A transfer's state lives at x/<id> as a TransferRecord: the few fields
// storage indexes, and Body, the protocol-level transfer (opaque JSON whose
// shape belongs to the protocol package; the node converts at the edge).
// Every write of a transfer, in the same transaction, replaces its index
// entries and moves its counters:
//
//	ix/xall/<order>/<id>                   every transfer, newest offer first
//	ix/xst/<state>/<order>/<id>            by state
//	ix/xct/<court>/<order>/<id>            by court (origin, decider, receiver)
//	ix/xcs/<court>/<state>/<order>/<id>    by court and state
//	ix/xdue/<yyyymmdd>/<id>                by deadline (only with a deadline, not terminal)
//	ix/xcase/<case number>/<id>            by case number (origin's and receiver's)
//	ix/xn/<state>                          count of transfers in state (8 bytes)
//	ix/xcn/<court>/<state>                 count per court and state (8 bytes)
//	ix/xdn/<yyyymmdd>                      count of deadline index entries that day (8 bytes)
//	ix/xcdn/<court>/<yyyymmdd>             the same per court (origin, decider, receiver)
//	ix/xtag/<tag>/<order>/<id>             by tag (TransferRecord.Tags)
//	ix/xtgc/<court>/<tag>/<order>/<id>     by court and tag
//	ix/xsm/<name>                          sum of the transfers' Stats[name], every transfer
//	ix/xsc/<court>/<name>                  sum of Stats[name] of the transfers concerning court
//
// <order> is 16 hex digits of the bitwise complement of the offer time in
// Unix nanoseconds, so that key order is newest offer first.
const (
	prefixXAll       = "ix/xall/"
	prefixXSt        = "ix/xst/"
	prefixXCourt     = "ix/xct/"
	prefixXCourtSt   = "ix/xcs/"
	prefixXDue       = "ix/xdue/"
	prefixXCase      = "ix/xcase/"
	prefixXCount     = "ix/xn/"
	prefixXCourtCnt  = "ix/xcn/"
	prefixXDueCnt    = "ix/xdn/"
	prefixXCourtDue  = "ix/xcdn/"
	prefixXSumMesh   = "ix/xsm/"
	prefixXTag       = "ix/xtag/"
	prefixXCourtTag  = "ix/xtgc/"
	prefixXSumCourt  = "ix/xsc/"
	legacyPrefixXSt  = "ix/xstate/" // schema 3 and older: ix/xstate/<state>/<id>
	transferV2Marker = `{"v":`
)

// TransferRecordVersion is the version of the stored transfer record this
// build writes. Version 1 is the bare protocol JSON of older builds (no
// envelope); it is still read, and rewritten as the current version the
// next time the transfer changes.
const TransferRecordVersion = 2

// TransferRecord is a transfer as storage keeps it: what the indexes need,
// and the protocol-level transfer as opaque JSON. The node converts
// protocol.Transfer to and from it.
type TransferRecord struct {
	// Version is the stored format: 1 for a value written by an older
	// build (bare protocol JSON), TransferRecordVersion otherwise. Writers
	// leave it zero; storage sets it.
	Version int
	// ID is the transfer ID ([A-Za-z0-9._-], 32 hex digits in practice).
	ID string
	// State is the protocol state (offered, decided, ..., closed).
	State string
	// Terminal marks a state after which nothing can follow; a terminal
	// transfer is not in the deadline index.
	Terminal bool
	// Origin, Decider and Receiver are the courts concerned; Decider is
	// the superior until the decision names the court that decided. Empty
	// when not known yet.
	Origin, Decider, Receiver court.CourtCode
	// CaseNumber is the origin's case number; NewCaseNumber the
	// receiver's, once it accepted (zero before).
	CaseNumber, NewCaseNumber court.CaseNumber
	// Deadline is the next date that can be missed in the current state
	// (protocol.Transfer.Due: acceptance, handover, filing, investigation
	// or conclusion; only the acceptance's for a transfer stored by an
	// older build); zero if none.
	Deadline court.Date
	// Offered is when the transfer was offered: it orders listings,
	// newest first, and must not change over the transfer's life.
	Offered time.Time
	// Updated is when the current state was reached.
	Updated time.Time
	// Body is the protocol-level transfer, valid JSON.
	Body []byte
	// Stats are what this transfer adds to the statistics of its scopes:
	// named non-negative integers (counts, sums of seconds or fen) whose
	// meaning belongs to the writer (the node's dashboard). Storage keeps
	// them in the record and, in the same transaction, keeps per name the
	// sum over every transfer and over the transfers concerning each
	// court (TransferStats), so that statistics over history are read
	// without reading a transfer. Names are non-empty UTF-8 without
	// control characters ('/' allowed).
	Stats map[string]int64
	// Tags mark the transfer for a listing by tag (TransferQuery.Tag):
	// the writer's names for work that is pending on it (e.g. "funds":
	// money, sanctions or notices not settled), so that the rooms that
	// raise alerts about that work read only the transfers concerned.
	// Each is a key part (no '/', no control characters).
	Tags []string
}

// transferValue is the stored form of a TransferRecord (version 2): this
// header as compact JSON, a newline, then Body as given. The "v" field
// comes first so that a reader tells it from version 1 (bare protocol
// JSON, which starts with "id") by its first bytes; compact JSON holds no
// raw newline, so the first one ends the header, and reading a record
// never scans its body.
type transferValue struct {
	V             int              `json:"v"`
	ID            string           `json:"id"`
	State         string           `json:"state"`
	Terminal      bool             `json:"terminal,omitempty"`
	Origin        court.CourtCode  `json:"origin,omitempty"`
	Decider       court.CourtCode  `json:"decider,omitempty"`
	Receiver      court.CourtCode  `json:"receiver,omitempty"`
	CaseNumber    court.CaseNumber `json:"case_number,omitzero"`
	NewCaseNumber court.CaseNumber `json:"new_case_number,omitzero"`
	Deadline      court.Date       `json:"deadline,omitzero"`
	Offered       time.Time        `json:"offered,omitzero"`
	Updated       time.Time        `json:"updated,omitzero"`
	Stats         map[string]int64 `json:"stats,omitempty"`
	Tags          []string         `json:"tags,omitempty"`
}

// legacyTransfer mirrors the fields of protocol.Transfer's JSON that
// storage indexes, to read version 1 values and TransferWrite.Data.
type legacyTransfer struct {
	ID            string          `json:"id"`
	State         string          `json:"state"`
	CaseNumber    string          `json:"case_number"`
	Origin        court.CourtCode `json:"origin"`
	Superior      court.CourtCode `json:"superior"`
	Decider       court.CourtCode `json:"decider"`
	Receiver      court.CourtCode `json:"receiver"`
	AcceptBy      string          `json:"accept_by"`
	Due           string          `json:"due"` // the deadline the transfer waits on, whatever its state
	NewCaseNumber string          `json:"new_case_number"`
	OfferedAt     time.Time       `json:"offered_at"`
	DecidedAt     time.Time       `json:"decided_at"`
	AcceptedAt    time.Time       `json:"accepted_at"`
	HandedOverAt  time.Time       `json:"handed_over_at"`
	ReceivedAt    time.Time       `json:"received_at"`
	ClosedAt      time.Time       `json:"closed_at"`
	// Assistance.Court is the court asked to assist (协同执行): indexed
	// as the receiver, the court that acts on the request.
	Assistance struct {
		Court court.CourtCode `json:"court"`
	} `json:"assistance"`
}

// Transfer states storage must know to read version 1 values: which are
// terminal, and in which one the acceptance deadline can be missed. They
// mirror protocol.State.
var (
	legacyTerminal      = map[string]bool{"closed": true, "rejected": true, "withdrawn": true}
	legacyDeadlineState = "decided"
)

// TransferFields are the fields of a transfer's protocol JSON that
// storage indexes, as protocol.Transfer names them (legacyTransfer): a
// writer that holds the transfer decoded gives them with its JSON to
// NewTransferRecord, instead of having storage decode the JSON again.
type TransferFields struct {
	ID, State                                      string
	CaseNumber, NewCaseNumber                      string
	Origin, Superior, Decider, Receiver            court.CourtCode
	AssistanceCourt                                court.CourtCode // Assistance.Court
	AcceptBy, Due                                  string
	OfferedAt, DecidedAt, AcceptedAt, HandedOverAt time.Time
	ReceivedAt, ClosedAt                           time.Time
}

// TransferRecordFromJSON builds the record of a transfer from its protocol
// JSON (the fields named as protocol.Transfer names them). It is how
// version 1 values and TransferWrite.Data are read; a case number or date
// that does not parse is left zero (and so not indexed).
func TransferRecordFromJSON(body []byte) (TransferRecord, error) {
	var t legacyTransfer
	if err := json.Unmarshal(body, &t); err != nil {
		return TransferRecord{}, court.Errorf(court.ErrCorrupt, "stored transfer does not decode: %v: %w", err, court.ErrCorrupt)
	}
	r := NewTransferRecord(TransferFields{
		ID: t.ID, State: t.State, CaseNumber: t.CaseNumber, NewCaseNumber: t.NewCaseNumber,
		Origin: t.Origin, Superior: t.Superior, Decider: t.Decider, Receiver: t.Receiver, AssistanceCourt: t.Assistance.Court,
		AcceptBy: t.AcceptBy, Due: t.Due,
		OfferedAt: t.OfferedAt, DecidedAt: t.DecidedAt, AcceptedAt: t.AcceptedAt, HandedOverAt: t.HandedOverAt,
		ReceivedAt: t.ReceivedAt, ClosedAt: t.ClosedAt,
	}, body)
	r.Version = 1
	return r, nil
}

// NewTransferRecord builds the record of a transfer from its indexed
// fields and its protocol JSON, body, exactly as TransferRecordFromJSON
// builds it from body alone (body is not read). Stats and Tags are left
// to the caller.
func NewTransferRecord(t TransferFields, body []byte) TransferRecord {
	r := TransferRecord{
		ID: t.ID, State: t.State, Terminal: legacyTerminal[t.State],
		Origin: t.Origin, Decider: t.Decider, Receiver: t.Receiver,
		Offered: t.OfferedAt, Body: body,
	}
	if r.Decider == "" {
		r.Decider = t.Superior
	}
	if r.Receiver == "" {
		r.Receiver = t.AssistanceCourt
	}
	r.CaseNumber, _ = court.ParseCaseNumber(t.CaseNumber)
	if t.NewCaseNumber != "" {
		r.NewCaseNumber, _ = court.ParseCaseNumber(t.NewCaseNumber)
	}
	switch {
	case t.Due != "" && !r.Terminal:
		r.Deadline, _ = court.ParseDate(t.Due)
	case t.State == legacyDeadlineState && t.AcceptBy != "":
		// Stored by a build before every deadline was: only the
		// acceptance's is known.
		r.Deadline, _ = court.ParseDate(t.AcceptBy)
	}
	r.Updated = t.OfferedAt
	for _, at := range []time.Time{t.DecidedAt, t.AcceptedAt, t.HandedOverAt, t.ReceivedAt, t.ClosedAt} {
		if at.After(r.Updated) {
			r.Updated = at
		}
	}
	return r
}

// decodeTransfer reads a stored value of either version. The record's
// Body aliases v; callers that keep it past the transaction pass a copy.
func decodeTransfer(v []byte) (TransferRecord, error) {
	if !bytes.HasPrefix(v, []byte(transferV2Marker)) {
		return TransferRecordFromJSON(v)
	}
	head, body, ok := bytes.Cut(v, []byte{'\n'})
	if !ok {
		return TransferRecord{}, court.Errorf(court.ErrCorrupt, "stored transfer has no body: %w", court.ErrCorrupt)
	}
	var tv transferValue
	if err := json.Unmarshal(head, &tv); err != nil {
		return TransferRecord{}, court.Errorf(court.ErrCorrupt, "stored transfer does not decode: %v: %w", err, court.ErrCorrupt)
	}
	if tv.V != TransferRecordVersion {
		return TransferRecord{}, court.Errorf(court.ErrUnavailable, "stored transfer %s has version %d, this courtmesh reads up to %d; upgrade courtmesh: %w", tv.ID, tv.V, TransferRecordVersion, court.ErrUnavailable)
	}
	return TransferRecord{
		Version: tv.V, ID: tv.ID, State: tv.State, Terminal: tv.Terminal,
		Origin: tv.Origin, Decider: tv.Decider, Receiver: tv.Receiver,
		CaseNumber: tv.CaseNumber, NewCaseNumber: tv.NewCaseNumber,
		Deadline: tv.Deadline, Offered: tv.Offered, Updated: tv.Updated, Body: body, Stats: tv.Stats, Tags: tv.Tags,
	}, nil
}

// checkKeyPart reports whether s can be part of a key: not empty, valid
// UTF-8, no '/', no control characters.
func checkKeyPart(what, s string) error {
	if s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r == '/' || r < 0x20 || r == 0x7f }) {
		return court.Errorf(court.ErrInvalid, "transfer %s %q: want non-empty text without '/' or control characters", what, s)
	}
	return nil
}

// validate checks what the keys are built from.
func (r *TransferRecord) validate() error {
	if err := checkKeyPart("id", r.ID); err != nil {
		return err
	}
	if err := checkKeyPart("state", r.State); err != nil {
		return err
	}
	for _, c := range []court.CourtCode{r.Origin, r.Decider, r.Receiver} {
		if c == "" {
			continue
		}
		if err := c.Validate(); err != nil {
			return court.Errorf(court.ErrInvalid, "transfer %s: %w", r.ID, err)
		}
	}
	if len(r.Body) == 0 || !json.Valid(r.Body) {
		return court.Errorf(court.ErrInvalid, "transfer %s: body is not valid JSON", r.ID)
	}
	for _, tag := range r.Tags {
		if err := checkKeyPart("tag", tag); err != nil {
			return err
		}
	}
	for name, v := range r.Stats {
		if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return court.Errorf(court.ErrInvalid, "transfer %s: statistic name %q: want non-empty text without control characters", r.ID, name)
		}
		if v < 0 {
			return court.Errorf(court.ErrInvalid, "transfer %s: statistic %s is %d; statistics are not negative", r.ID, name, v)
		}
	}
	return nil
}

// courts returns the distinct courts of r.
func (r *TransferRecord) courts() []court.CourtCode {
	out := make([]court.CourtCode, 0, 3)
	for _, c := range []court.CourtCode{r.Origin, r.Decider, r.Receiver} {
		if c != "" && !containsCourt(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func containsCourt(cs []court.CourtCode, c court.CourtCode) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func transferKey(id string) []byte { return []byte(prefixTransfer + id) }

// dueKey returns r's entry in the deadline index, nil if it has none (no
// deadline, or terminal). Unlike the other index entries it has a value,
// dueValue: what the overdue alerts need, so that they read no record.
func (r *TransferRecord) dueKey() []byte {
	if r.Deadline.IsZero() || r.Terminal {
		return nil
	}
	return []byte(prefixXDue + dateKey(r.Deadline) + "/" + r.ID)
}

// dueValue encodes r's deadline index value: the offer time (8 bytes,
// Unix nanoseconds, big-endian), then state, origin, decider and receiver
// separated by NUL bytes (none holds one).
func (r *TransferRecord) dueValue() []byte {
	var ns uint64
	if !r.Offered.IsZero() {
		ns = uint64(r.Offered.UnixNano())
	}
	b := binary.BigEndian.AppendUint64(nil, ns)
	for i, s := range []string{r.State, string(r.Origin), string(r.Decider), string(r.Receiver)} {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, s...)
	}
	return b
}

// indexKeys returns every index key of r with an empty value (all but
// dueKey).
func (r *TransferRecord) indexKeys() [][]byte {
	o := orderKey(r.Offered) + "/" + r.ID
	cs := r.courts()
	ks := make([][]byte, 0, 3+2*len(cs))
	ks = append(ks, joinKey(prefixXAll, o), joinKey(prefixXSt, r.State, "/", o))
	for _, c := range cs {
		ks = append(ks, joinKey(prefixXCourt, string(c), "/", o), joinKey(prefixXCourtSt, string(c), "/", r.State, "/", o))
	}
	for _, n := range r.caseNumbers() {
		ks = append(ks, joinKey(prefixXCase, n, "/", r.ID))
	}
	for _, tag := range r.tags() {
		ks = append(ks, joinKey(prefixXTag, tag, "/", o))
		for _, c := range cs {
			ks = append(ks, joinKey(prefixXCourtTag, string(c), "/", tag, "/", o))
		}
	}
	return ks
}

// joinKey returns the concatenation of parts, in one allocation.
func joinKey(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// tags returns r's distinct tags.
func (r *TransferRecord) tags() []string {
	var out []string
	for _, t := range r.Tags {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// caseNumbers returns the distinct normalised case numbers of r.
func (r *TransferRecord) caseNumbers() []string {
	var out []string
	if !r.CaseNumber.IsZero() {
		out = append(out, r.CaseNumber.String())
	}
	if !r.NewCaseNumber.IsZero() && r.NewCaseNumber != r.CaseNumber {
		out = append(out, r.NewCaseNumber.String())
	}
	return out
}

// counterKeys returns the counters r adds one to.
func (r *TransferRecord) counterKeys() [][]byte {
	cs := r.courts()
	ks := make([][]byte, 0, 2+2*len(cs))
	ks = append(ks, joinKey(prefixXCount, r.State))
	for _, c := range cs {
		ks = append(ks, joinKey(prefixXCourtCnt, string(c), "/", r.State))
	}
	if !r.Deadline.IsZero() && !r.Terminal {
		d := dateKey(r.Deadline)
		ks = append(ks, joinKey(prefixXDueCnt, d))
		for _, c := range cs {
			ks = append(ks, joinKey(prefixXCourtDue, string(c), "/", d))
		}
	}
	return ks
}

// statDeltas calls f with each statistic's sum key and what r adds to it:
// every non-zero Stats entry, once for the whole mesh and once for each
// court r concerns.
func (r *TransferRecord) statDeltas(f func(k []byte, v int64) error) error {
	cs := r.courts()
	for _, tag := range r.Tags {
		if err := checkKeyPart("tag", tag); err != nil {
			return err
		}
	}
	for name, v := range r.Stats {
		if v == 0 {
			continue
		}
		if err := f([]byte(prefixXSumMesh+name), v); err != nil {
			return err
		}
		for _, c := range cs {
			if err := f([]byte(prefixXSumCourt+string(c)+"/"+name), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// addCounter adds delta to the counter at k (deleting it at zero).
func addCounter(txn *badger.Txn, k []byte, delta int64) error {
	cur, err := getUint(txn, k)
	if err != nil {
		return err
	}
	v := int64(cur) + delta
	if v < 0 {
		return court.Errorf(court.ErrCorrupt, "transfer counter %s would go below zero; rebuild the indexes (see storage schema migrations): %w", k, court.ErrCorrupt)
	}
	if v == 0 {
		return txn.Delete(k)
	}
	return txn.Set(k, binary.BigEndian.AppendUint64(nil, uint64(v)))
}

// loadTransfer reads the record at x/<id> in txn; found is false if absent.
func loadTransfer(txn *badger.Txn, id string) (rec TransferRecord, found bool, err error) {
	item, err := txn.Get(transferKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return TransferRecord{}, false, nil
	}
	if err != nil {
		return TransferRecord{}, false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return TransferRecord{}, false, err
	}
	rec, err = decodeTransfer(v)
	if err != nil {
		return TransferRecord{}, false, fmt.Errorf("transfer %s: %w", id, err)
	}
	return rec, true, nil
}

// putTransfer writes r in txn: the record, its index entries and its
// counters, removing those of the version it replaces. It is the one
// write path of a transfer (Apply, PutTransfer, the migration's and the
// bulk loader's key builders are the same functions).
//
// It reads the transfer it replaces through rc (nil: none).
func putTransfer(txn *badger.Txn, rc *readCache, r *TransferRecord) error {
	if err := r.validate(); err != nil {
		return err
	}
	old, found, err := rc.transfer(txn, r.ID)
	if err != nil {
		return err
	}
	if found {
		if r.Offered.IsZero() {
			r.Offered = old.Offered // keep the listing order of a transfer
		}
		for _, k := range old.indexKeys() {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		if k := old.dueKey(); k != nil {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		for _, k := range old.counterKeys() {
			if err := addCounter(txn, k, -1); err != nil {
				return err
			}
		}
		if err := old.statDeltas(func(k []byte, v int64) error { return addCounter(txn, k, -v) }); err != nil {
			return err
		}
		// A store written by schema 3 may still hold the legacy state key.
		if err := txn.Delete([]byte(legacyPrefixXSt + old.State + "/" + old.ID)); err != nil {
			return err
		}
	}
	v, err := encodeTransfer(r)
	if err != nil {
		return err
	}
	rc.wroteTransfer(r.ID)
	if err := txn.Set(transferKey(r.ID), v); err != nil {
		return err
	}
	for _, k := range r.indexKeys() {
		if err := txn.Set(k, nil); err != nil {
			return err
		}
	}
	if k := r.dueKey(); k != nil {
		if err := txn.Set(k, r.dueValue()); err != nil {
			return err
		}
	}
	for _, k := range r.counterKeys() {
		if err := addCounter(txn, k, 1); err != nil {
			return err
		}
	}
	return r.statDeltas(func(k []byte, v int64) error { return addCounter(txn, k, v) })
}

// PutTransfer writes one transfer record, its indexes and counters in one
// transaction. Apply with Commit.TransferRecord does the same together
// with the record log; PutTransfer is for tools and tests.
func (db *DB) PutTransfer(r TransferRecord) error {
	return db.update(func(txn *badger.Txn) error { return putTransfer(txn, nil, &r) })
}

// GetTransfer returns the record of a transfer; an error wrapping
// court.ErrNotFound (and ErrNotFound) if there is none.
func (db *DB) GetTransfer(id string) (TransferRecord, error) {
	var rec TransferRecord
	err := db.bdb.View(func(txn *badger.Txn) error {
		r, found, err := loadTransfer(txn, id)
		if err != nil {
			return err
		}
		if !found {
			return court.Errorf(court.ErrNotFound, "transfer %s: %w; check the ID or wait for the records to sync", id, court.ErrNotFound)
		}
		rec = r
		return nil
	})
	return rec, err
}

// update runs fn in a read-write transaction, retrying when a concurrent
// transaction wrote a key fn read (the counters make that common).
func (db *DB) update(fn func(txn *badger.Txn) error) error {
	var err error
	for range 16 {
		err = db.bdb.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return court.Errorf(court.ErrUnavailable, "store busy: %v; try again: %w", err, court.ErrUnavailable)
}
