// Package atomicfile writes a file so that a crash at any moment leaves
// either its old content or the new, never a mix nor an empty file, and
// so that once a write returns the new content survives a power loss.
// The node's data directory (node/datadir) and the offline CA's directory
// (crypto/ca) both write through it.
//
// A write goes to a temporary file in the same directory (its name starts
// with TempPrefix), which is fsynced, then renamed over the path (or, for
// CreateFile, hard-linked to it), and the directory is fsynced so that the
// new name is durable too. Every error is returned, the directory's
// included: a write that returned nil is on disk.
// (github.com/google/renameio/v2 does the first part but does not fsync
// the directory.)
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TempPrefix starts the name of every temporary file, so that a listing
// can tell one left behind by a crash from a real file (IsTemp).
const TempPrefix = "."

// IsTemp says whether a file name is that of a temporary file, possibly
// left behind by a crash; readers of a directory skip them.
func IsTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// WriteFile writes data to path, replacing what path held, with the
// permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// CreateFile is WriteFile for a file that must not exist yet: an existing
// path is left alone and the error matches fs.ErrExist. The new file
// appears whole or not at all (a hard link of the synced temporary file).
func CreateFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

func write(path string, data []byte, perm os.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if rmErr := os.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = rmErr
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	closeErr := f.Close()
	f = nil
	if closeErr != nil {
		return closeErr
	}
	if exclusive {
		// link(2) fails with EEXIST instead of replacing; the deferred
		// remove drops the temporary name.
		if err := os.Link(tmp, path); err != nil {
			return err
		}
	} else if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory, making the names created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to fsync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
