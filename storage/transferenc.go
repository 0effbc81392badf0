package storage

import (
	"encoding"
	"encoding/hex"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
)

// The stored transfer's header, written by hand.
//
// encodeTransfer runs with every transfer record a node applies; through
// encoding/json its header cost about as much as the rest of the store's
// own work on the record (reflection over transferValue, a text marshaler
// per court code, case number and date). It writes the same bytes that
// json.Marshal writes for transferValue, field by field and escaped the
// same way, and fails where json.Marshal fails (a court code, case number
// or date that does not marshal, a time outside years 0-9999):
// TestEncodeTransferAsJSON and FuzzEncodeTransfer hold it to that, so the
// stored format (version 2) does not change.

// encodeTransfer returns the stored form (version 2) of r.
func encodeTransfer(r *TransferRecord) ([]byte, error) {
	b := make([]byte, 0, 256+len(r.Body))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, TransferRecordVersion, 10)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, r.State)
	if r.Terminal {
		b = append(b, `,"terminal":true`...)
	}
	var err error
	for _, f := range [...]struct {
		name string
		c    court.CourtCode
	}{{`,"origin":`, r.Origin}, {`,"decider":`, r.Decider}, {`,"receiver":`, r.Receiver}} {
		if f.c != "" { // omitempty
			if b, err = appendJSONText(b, f.name, f.c); err != nil {
				return nil, encodeError(r, err)
			}
		}
	}
	for _, f := range [...]struct {
		name string
		n    court.CaseNumber
	}{{`,"case_number":`, r.CaseNumber}, {`,"new_case_number":`, r.NewCaseNumber}} {
		if !f.n.IsZero() { // omitzero
			if b, err = appendJSONText(b, f.name, f.n); err != nil {
				return nil, encodeError(r, err)
			}
		}
	}
	if !r.Deadline.IsZero() {
		if b, err = appendJSONText(b, `,"deadline":`, r.Deadline); err != nil {
			return nil, encodeError(r, err)
		}
	}
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{`,"offered":`, r.Offered}, {`,"updated":`, r.Updated}} {
		if !f.t.IsZero() {
			j, err := f.t.MarshalJSON()
			if err != nil {
				return nil, encodeError(r, err)
			}
			b = append(b, f.name...)
			b = append(b, j...)
		}
	}
	if len(r.Stats) > 0 {
		names := make([]string, 0, len(r.Stats))
		for name := range r.Stats {
			names = append(names, name)
		}
		slices.Sort(names)
		b = append(b, `,"stats":{`...)
		for i, name := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
			b = append(b, ':')
			b = strconv.AppendInt(b, r.Stats[name], 10)
		}
		b = append(b, '}')
	}
	if len(r.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, tag := range r.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, tag)
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	return append(b, r.Body...), nil
}

func encodeError(r *TransferRecord, err error) error {
	return court.Errorf(court.ErrInvalid, "transfer %s: cannot encode: %v", r.ID, err)
}

// appendJSONText appends name and then v's text as a JSON string, as
// encoding/json writes a field whose type is an encoding.TextMarshaler.
func appendJSONText(b []byte, name string, v encoding.TextMarshaler) ([]byte, error) {
	t, err := v.MarshalText()
	if err != nil {
		return b, err
	}
	b = append(b, name...)
	return appendJSONString(b, string(t)), nil
}

// appendJSONString appends s as a JSON string exactly as json.Marshal
// writes it: HTML-safe (<, > and & escaped), invalid UTF-8 as U+FFFD,
// U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// orderKey is the newest-first sort key of an offer time: the complement
// of its Unix nanoseconds (0 for none), 16 lowercase hex digits.
func orderKey(offered time.Time) string {
	var ns uint64
	if !offered.IsZero() {
		ns = uint64(offered.UnixNano())
	}
	var be [8]byte
	for i := range be {
		be[i] = byte(^ns >> (56 - 8*i))
	}
	return hex.EncodeToString(be[:])
}
