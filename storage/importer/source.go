package importer

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// source is a folder or a zip holding case.json and the documents.
type source interface {
	// open opens a file by its checked relative path; fs.ErrNotExist if
	// absent. The reader fails once more than max bytes come out of it.
	open(name string, max int64) (io.ReadCloser, error)
	close() error
}

// limitedReader returns errTooLarge once more than max bytes are read,
// counting the bytes actually produced (a zip header can lie).
type limitedReader struct {
	r     io.ReadCloser
	n     int64
	max   int64
	ratio int64  // 0, or the largest output/input ratio allowed
	in    *int64 // compressed bytes read so far (nil: not compressed), for the ratio check
}

var errTooLarge = errors.New("too large")
var errBomb = errors.New("compression ratio too high")

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, errTooLarge
	}
	if l.ratio > 0 && l.in != nil && l.n > 1<<20 && l.n > l.ratio*max(*l.in, 1) {
		return n, errBomb
	}
	return n, err
}

func (l *limitedReader) Close() error { return l.r.Close() }

// dirSource reads from a folder through os.Root, so no path can leave it.
type dirSource struct{ root *os.Root }

func openDir(dir string) (*dirSource, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &dirSource{root: r}, nil
}

func (d *dirSource) open(name string, max int64) (io.ReadCloser, error) {
	st, err := d.root.Lstat(filepath.FromSlash(name))
	if err != nil {
		return nil, err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("is a symbolic link; copy the file itself into the case folder")
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file")
	}
	f, err := d.root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, err
	}
	return &limitedReader{r: f, max: max}, nil
}

func (d *dirSource) close() error { return d.root.Close() }

// zipSource reads from a zip archive whose entries were all checked when
// it was opened.
type zipSource struct {
	zr      *zip.ReadCloser
	files   map[string]*zip.File
	ratio   int64
	entries []FieldError // problems with entries, reported with the case's
}

// maxZipEntries bounds the number of entries read from an archive.
const maxZipEntries = 100000

func openZip(path string, o Options) (*zipSource, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable zip archive: %w", path, err)
	}
	z := &zipSource{zr: zr, files: map[string]*zip.File{}, ratio: int64(o.MaxCompressionRatio)}
	if len(zr.File) > maxZipEntries {
		zr.Close()
		return nil, fmt.Errorf("%s has %d entries, more than %d", path, len(zr.File), maxZipEntries)
	}
	bad := func(name, format string, args ...any) {
		z.entries = append(z.entries, FieldError{Path: "zip:" + name, Msg: fmt.Sprintf(format, args...)})
	}
	for _, f := range zr.File {
		name := f.Name
		mode := f.Mode()
		if strings.HasSuffix(name, "/") && mode.IsDir() {
			if msg := checkRelPath(strings.TrimSuffix(name, "/")); msg != "" {
				bad(name, "directory %s", msg)
			}
			continue
		}
		if msg := checkRelPath(name); msg != "" {
			bad(name, "entry name %s", msg)
			continue
		}
		if mode&fs.ModeSymlink != 0 {
			bad(name, "is a symbolic link; archives must hold the files themselves")
			continue
		}
		if !mode.IsRegular() {
			bad(name, "is not a regular file (mode %v)", mode)
			continue
		}
		if _, dup := z.files[name]; dup {
			bad(name, "appears twice in the archive")
			continue
		}
		z.files[name] = f
	}
	return z, nil
}

func (z *zipSource) open(name string, max int64) (io.ReadCloser, error) {
	f, ok := z.files[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	if f.UncompressedSize64 > uint64(max) {
		return nil, errTooLarge
	}
	// The entry is inflated here from its raw bytes, so that the ratio is
	// checked against the compressed bytes actually read: the sizes in
	// the archive's directory are the sender's word and can lie.
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, &zipEntryError{err: err, msg: fmt.Sprintf("cannot be found where the zip's directory places it (%v): the archive is damaged or altered; export the case again", err)}
	}
	cr := &countingReader{r: raw}
	var rc io.ReadCloser
	switch f.Method {
	case zip.Store:
		rc = io.NopCloser(cr)
	case zip.Deflate:
		rc = flate.NewReader(cr)
	default:
		return nil, fmt.Errorf("compression method %d is not supported (use deflate or store)", f.Method)
	}
	return &limitedReader{r: &checkedEntry{r: rc, f: f, crc: crc32.NewIEEE()}, max: max, ratio: z.ratio, in: &cr.n}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// checkedEntry checks, at the end of an entry inflated from its raw
// bytes, its size and CRC-32 against the archive's directory, as
// zip.File.Open does.
type checkedEntry struct {
	r   io.ReadCloser
	f   *zip.File
	crc hash.Hash32
	n   uint64
}

func (c *checkedEntry) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.crc.Write(p[:k])
	c.n += uint64(k)
	if err != nil && err != io.EOF {
		return k, &zipEntryError{err: err, msg: fmt.Sprintf("cannot be read from the zip after %d bytes (%v): its compressed data is damaged or does not match the %d compressed bytes the archive's directory declares for it; export the case again", c.n, err, c.f.CompressedSize64)}
	}
	if c.n > c.f.UncompressedSize64 {
		return k, &zipEntryError{err: zip.ErrFormat, msg: fmt.Sprintf("is longer in the zip than the %d bytes the archive's directory declares for it (the archive was altered or written by a faulty tool); export the case again", c.f.UncompressedSize64)}
	}
	if err == io.EOF && c.n != c.f.UncompressedSize64 {
		return k, &zipEntryError{err: zip.ErrFormat, msg: fmt.Sprintf("holds %d bytes in the zip, not the %d the archive's directory declares for it (the archive was cut, altered or written by a faulty tool); export the case again", c.n, c.f.UncompressedSize64)}
	}
	if err == io.EOF && c.crc.Sum32() != c.f.CRC32 {
		return k, &zipEntryError{err: zip.ErrChecksum, msg: fmt.Sprintf("does not match the checksum (CRC-32 %08x, read %08x) the archive declares for it: it is damaged; export the case again", c.f.CRC32, c.crc.Sum32())}
	}
	return k, err
}

// zipEntryError says which entry of an archive does not match what the
// archive's directory declares, and how ("zip: not a valid zip file" did
// not). It wraps zip.ErrFormat or zip.ErrChecksum.
type zipEntryError struct {
	err error
	msg string
}

func (e *zipEntryError) Error() string { return e.msg }
func (e *zipEntryError) Unwrap() error { return e.err }

func (c *checkedEntry) Close() error { return c.r.Close() }

func (z *zipSource) close() error { return z.zr.Close() }
