//go:build unix

package storage

import "golang.org/x/sys/unix"

// FreeSpace returns the bytes available to this process's user on the
// filesystem that holds path (what df shows as available: the blocks
// kept for root are not counted).
func FreeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return -1, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
