package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeFile writes data to path so that a crash at any moment leaves
// either the old content or the new, never a mix nor an empty file, and so
// that once it returns the new content survives a power loss: the data
// goes to a temporary file in the same directory, which is fsynced, then
// renamed over path, and the directory is fsynced so that the rename is
// durable too. (github.com/google/renameio/v2 does the first part but does
// not fsync the directory.)
func writeFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// createFile is writeFile for a file that must not exist yet: an existing
// path is left alone and the error matches fs.ErrExist. The new file
// appears whole or not at all (a hard link of the synced temporary file).
func createFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// tempPrefix starts the name of every temporary file, so that a listing
// can tell one left behind by a crash from a real file.
const tempPrefix = "."

func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

func write(path string, data []byte, perm os.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+".tmp*")
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

// syncDir fsyncs a directory, making the names created or renamed in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
