//go:build unix

package storage

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// storeInUse reports whether another holder has the store directory's
// lock: Badger takes an exclusive flock on the directory for as long as
// a store is open, in this process or another. Checking it first gives a
// typed answer (ErrInUse) instead of Badger's text.
func storeInUse(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return true, nil
		}
		return false, err
	}
	return false, unix.Flock(int(f.Fd()), unix.LOCK_UN)
}
