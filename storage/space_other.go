//go:build !unix

package storage

// FreeSpace cannot tell here: -1, and no write is refused for space.
func FreeSpace(string) (int64, error) { return -1, nil }
