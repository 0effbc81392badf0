package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage"
)

// Options bounds what an import accepts. Every zero field takes the
// default given beside it.
type Options struct {
	MaxDocumentSize     int64 // per document, in bytes; default 2 GiB
	MaxCaseJSON         int64 // case.json, in bytes; default 1 MiB
	MaxTotalSize        int64 // all documents together; default 64 GiB
	MaxCompressionRatio int   // zip entries: decompressed/compressed above this (past 1 MiB) is a bomb; default 100
	// Suite hashes the documents (their DocumentIDs): it must be the
	// store's (storage.DB.Suite). Zero means crypto.SuiteV1; Import sets
	// it from the store.
	Suite crypto.Suite
}

// Defaults.
const (
	DefaultMaxDocumentSize     = 2 << 30
	DefaultMaxCaseJSON         = 1 << 20
	DefaultMaxTotalSize        = 64 << 30
	DefaultMaxCompressionRatio = 100
)

func (o Options) withDefaults() Options {
	if o.MaxDocumentSize <= 0 {
		o.MaxDocumentSize = DefaultMaxDocumentSize
	}
	if o.MaxCaseJSON <= 0 {
		o.MaxCaseJSON = DefaultMaxCaseJSON
	}
	if o.MaxTotalSize <= 0 {
		o.MaxTotalSize = DefaultMaxTotalSize
	}
	if o.MaxCompressionRatio <= 0 {
		o.MaxCompressionRatio = DefaultMaxCompressionRatio
	}
	return o
}

// Result says what an import did.
type Result struct {
	storage.PutResult
	Warnings []string // findings that do not stop the import
}

// Prepared is a case that passed every check, with its files still open
// for the store to read. Close it when done.
type Prepared struct {
	Case     storage.NewCase
	Warnings []string
	src      source
}

// Close releases the folder or archive.
func (p *Prepared) Close() error { return p.src.close() }

// Import validates the case folder or .zip at path and stores it in db:
// all of it, as a new version if it changed, or nothing. Validation
// problems come back together as a *ValidationError.
func Import(ctx context.Context, db *storage.DB, path string, o Options) (Result, error) {
	if db != nil {
		o.Suite = db.Suite()
	}
	p, err := Prepare(ctx, path, o)
	if err != nil {
		return Result{}, err
	}
	defer p.Close()
	res, err := db.PutCase(ctx, p.Case)
	if err != nil {
		return Result{}, fmt.Errorf("import %s: %w", path, err)
	}
	return Result{PutResult: res, Warnings: p.Warnings}, nil
}

// Prepare opens and checks a case folder or .zip: the schema and rules of
// case.json, the archive's entries, and every document file (present,
// within limits, hashed). It writes nothing.
func Prepare(ctx context.Context, path string, o Options) (*Prepared, error) {
	o = o.withDefaults()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	var src source
	var zipErrs []FieldError
	switch {
	case st.IsDir():
		d, err := openDir(path)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		src = d
	case strings.EqualFold(fileExt(path), ".zip"):
		z, err := openZip(path, o)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		src, zipErrs = z, z.entries
	default:
		return nil, fmt.Errorf("import: %s is neither a folder nor a .zip archive", path)
	}
	p, err := prepare(ctx, path, src, zipErrs, o)
	if err != nil {
		src.close()
		return nil, err
	}
	return p, nil
}

// canonicalNumbers returns case.json with its case numbers (the case's
// and its title's) written in their normal form (court.ParseCaseNumber:
// full-width brackets, ASCII digits, no spaces), so that the same case
// exported once with （） and once with () is the same content and not a new
// version. case.json is stored and hashed as returned. A file whose
// numbers are already normal is returned unchanged, byte for byte (its
// content hash is what earlier releases stored); a number written with
// JSON escapes is left as it is.
func canonicalNumbers(data []byte) []byte {
	var f struct {
		CaseNumber string `json:"case_number"`
		Title      struct {
			CaseNumber string `json:"case_number"`
		} `json:"title"`
	}
	if json.Unmarshal(data, &f) != nil {
		return data
	}
	for _, typed := range []string{f.CaseNumber, f.Title.CaseNumber} {
		n, err := court.ParseCaseNumber(typed)
		if err != nil || n.String() == typed {
			continue
		}
		var from, to bytes.Buffer
		enc := func(b *bytes.Buffer, s string) {
			e := json.NewEncoder(b)
			e.SetEscapeHTML(false)
			e.Encode(s)
		}
		enc(&from, typed)
		enc(&to, n.String())
		data = bytes.ReplaceAll(data, bytes.TrimSpace(from.Bytes()), bytes.TrimSpace(to.Bytes()))
	}
	return data
}

func fileExt(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i:]
	}
	return ""
}

func prepare(ctx context.Context, path string, src source, errs []FieldError, o Options) (*Prepared, error) {
	fail := func() error { return &ValidationError{Source: path, Errs: errs} }
	data, err := readAll(src, "case.json", o.MaxCaseJSON)
	if err != nil {
		errs = append(errs, FieldError{Path: "case.json", Msg: fileProblem(err, o.MaxCaseJSON)})
		return nil, fail()
	}
	parsed, perrs := ParseCase(data)
	errs = append(errs, perrs...)
	if parsed == nil {
		return nil, fail()
	}
	data = canonicalNumbers(data)
	v := parsed.Version
	sources := make([]storage.DocumentSource, len(v.Documents))
	var total int64
	for i, d := range v.Documents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		at := fmt.Sprintf("documents[%d].file", i)
		if checkRelPath(d.File) != "" || d.File == "case.json" {
			continue // already reported
		}
		size, hash, err := hashFile(src, d.File, o.MaxDocumentSize, o.Suite)
		if err != nil {
			errs = append(errs, FieldError{Path: at, Msg: fmt.Sprintf("%q %s", d.File, fileProblem(err, o.MaxDocumentSize))})
			continue
		}
		total += size
		name := d.File
		sources[i] = storage.DocumentSource{
			Open: func() (io.ReadCloser, error) { return src.open(name, o.MaxDocumentSize) },
			Size: size, Hash: hash,
		}
	}
	if total > o.MaxTotalSize {
		errs = append(errs, FieldError{Path: "documents", Msg: fmt.Sprintf("the documents total %d bytes, more than the limit of %d", total, o.MaxTotalSize)})
	}
	if len(errs) > 0 {
		return nil, fail()
	}
	return &Prepared{
		Case: storage.NewCase{Version: v, Sources: sources, CaseJSON: data,
			PartyIDs: parsed.PartyIDs, AssetAccounts: parsed.AssetAccounts},
		Warnings: parsed.Warnings,
		src:      src,
	}, nil
}

func fileProblem(err error, max int64) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "is missing: the file is not in the case folder or archive"
	case errors.Is(err, errTooLarge):
		return fmt.Sprintf("is larger than the limit of %d bytes", max)
	case errors.Is(err, errBomb):
		return "decompresses far beyond its compressed size (a zip bomb?); refused"
	}
	return err.Error()
}

func readAll(src source, name string, max int64) ([]byte, error) {
	r, err := src.open(name, max)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func hashFile(src source, name string, max int64, suite crypto.Suite) (int64, crypto.DocumentID, error) {
	r, err := src.open(name, max)
	if err != nil {
		return 0, crypto.DocumentID{}, err
	}
	defer r.Close()
	h := suite.NewHash()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, crypto.DocumentID{}, err
	}
	return n, crypto.DocumentID(h.Sum(nil)), nil
}
