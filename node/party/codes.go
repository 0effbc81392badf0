package party

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/storage"
)

// Query codes (查询码). A code is 12 characters of Crockford's base32
// (60 random bits), printed as XXXX-XXXX-XXXX. The store keeps only
// argon2id(code, case number, the last 4 characters of the party's
// identity number) under a per-code salt, and a selector (a keyed hash of
// the case number and the code) that finds the entry, so that a sign-in
// costs one argon2id whether the case, the code or the last 4 are wrong.

// codeAlphabet is Crockford's base32: no I, L, O or U.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// CodeLength is the number of characters of a query code.
const CodeLength = 12

// CodeBits is the entropy of a query code.
const CodeBits = CodeLength * 5

// The argon2id parameters of new hashes (OWASP's minimum: 19 MiB, 2
// passes, 1 thread).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// NewCode returns a random query code, normalised (no separators).
func NewCode() string {
	var b [CodeLength]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = codeAlphabet[b[i]&31]
	}
	return string(b[:])
}

// FormatCode prints a code in groups of four.
func FormatCode(c string) string {
	if len(c) != CodeLength {
		return c
	}
	return c[:4] + "-" + c[4:8] + "-" + c[8:]
}

// NormaliseCode reads a code as a person types it: case, spaces and
// hyphens do not matter, O reads as 0, I and L as 1. It returns "" when
// what is left is not a code.
func NormaliseCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\u3000', '－':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(codeAlphabet, r) {
			return ""
		}
		b.WriteRune(r)
	}
	if b.Len() != CodeLength {
		return ""
	}
	return b.String()
}

// NormaliseLast4 reads the last 4 characters of an identity number as
// typed (x or X). It returns "" when it is not 4 digits or letters.
func NormaliseLast4(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 4 {
		return ""
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	return s
}

func selector(key []byte, n court.CaseNumber, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("courtmesh query-code selector v1\x00" + n.String() + "\x00" + code))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func codeHash(n court.CaseNumber, code, last4 string, salt []byte, t, mem uint32, threads uint8) []byte {
	pw := []byte("courtmesh query code v1\x00" + n.String() + "\x00" + code + "\x00" + last4)
	return argon2.IDKey(pw, salt, t, mem, threads, argonKeyLen)
}

// Issued is one party's new query code, to print once.
type Issued = api.IssuedCode

// CodeStore is what issuing codes needs of the store.
type CodeStore interface {
	Case(n court.CaseNumber) (storage.CaseRecord, storage.CaseVersion, error)
	PartyID(n court.CaseNumber, partyID string) (string, error)
	PartyKey() ([]byte, error)
	ReplaceQueryCodes(n court.CaseNumber, codes []storage.QueryCode, replace bool) error
}

// IssueCodes makes a query code for each party of case n that has an
// identity number, stores their hashes, and returns the codes: the only
// time they exist in clear. With reissue false it refuses when the case
// already has codes. The caller audits (the codes are never logged).
func IssueCodes(_ context.Context, st CodeStore, n court.CaseNumber, reissue bool, now time.Time) ([]Issued, error) {
	_, v, err := st.Case(n)
	if err != nil {
		return nil, err
	}
	key, err := st.PartyKey()
	if err != nil {
		return nil, err
	}
	var out []Issued
	var codes []storage.QueryCode
	for _, p := range v.Parties {
		is := Issued{Party: p.ID, Role: p.Role, Name: court.MaskName(p.Name, p.Kind)}
		id, err := st.PartyID(n, p.ID)
		if err != nil || len([]rune(id)) < 4 {
			is.Skipped = "no identity number on file: no query code"
			out = append(out, is)
			continue
		}
		r := []rune(strings.ToUpper(id))
		last4 := NormaliseLast4(string(r[len(r)-4:]))
		if last4 == "" {
			is.Skipped = "the identity number does not end in 4 letters or digits: no query code"
			out = append(out, is)
			continue
		}
		code := NewCode()
		salt := make([]byte, 16)
		rand.Read(salt)
		codes = append(codes, storage.QueryCode{Case: n, Party: p.ID, Role: p.Role, Salt: salt,
			Hash: codeHash(n, code, last4, salt, argonTime, argonMemory, argonThreads),
			Time: argonTime, Memory: argonMemory, Threads: argonThreads, Issued: now.UTC(), Selector: selector(key, n, code)})
		is.Code = FormatCode(code)
		out = append(out, is)
	}
	if len(codes) == 0 {
		return nil, court.Errorf(court.ErrInvalid, "case %s has no party with an identity number on file: no query code can be made", n)
	}
	if err := st.ReplaceQueryCodes(n, codes, reissue); err != nil {
		return nil, err
	}
	return out, nil
}

// dummy is the entry a sign-in checks when no entry matches, so that an
// unknown case or code costs the same argon2id as a known one.
var dummy = storage.QueryCode{Salt: make([]byte, 16), Hash: make([]byte, argonKeyLen), Time: argonTime, Memory: argonMemory, Threads: argonThreads}

// verify checks a sign-in against the store: exactly one argon2id in
// every case. It returns the matching entry and true, or false.
func verify(st interface {
	PartyKey() ([]byte, error)
	QueryCodeBySelector(court.CaseNumber, string) (storage.QueryCode, error)
}, hashes *atomic.Int64, caseText, codeText, last4Text string) (storage.QueryCode, bool, error) {
	n, nerr := court.ParseCaseNumber(caseText)
	code := NormaliseCode(codeText)
	last4 := NormaliseLast4(last4Text)
	key, err := st.PartyKey()
	if err != nil {
		return storage.QueryCode{}, false, err
	}
	q := dummy
	found := false
	if nerr == nil && code != "" {
		e, err := st.QueryCodeBySelector(n, selector(key, n, code))
		switch {
		case err == nil:
			q, found = e, true
		case court.KindOf(err) != court.ErrNotFound:
			return storage.QueryCode{}, false, err
		}
	}
	got := codeHash(n, code, last4, q.Salt, q.Time, q.Memory, q.Threads)
	hashes.Add(1)
	ok := subtle.ConstantTimeCompare(got, q.Hash) == 1
	if !found || !ok || last4 == "" || code == "" || nerr != nil {
		return storage.QueryCode{}, false, nil
	}
	return q, true, nil
}
