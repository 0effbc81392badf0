package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		file      string
		exclusive bool
		data      string
		want      string
		wantErr   error
	}{
		{name: "create", file: "f", data: "one", want: "one"},
		{name: "replace", file: "f", data: "two", want: "two"},
		{name: "exclusive over an existing file", file: "f", exclusive: true, data: "three", want: "two", wantErr: fs.ErrExist},
		{name: "exclusive, new", file: "g", exclusive: true, data: "four", want: "four"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			var err error
			if tt.exclusive {
				err = CreateFile(path, []byte(tt.data), 0o640)
			} else {
				err = WriteFile(path, []byte(tt.data), 0o640)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("content %q, want %q", got, tt.want)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode %v", fi.Mode().Perm())
			}
			noTemp(t, dir)
		})
	}
}

// noTemp fails if a temporary file was left in dir.
func noTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if IsTemp(e.Name()) {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

// TestWriteErrors: a write that cannot be made, or made durable, says so.
func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "a file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path string
		want       error
	}{
		{"into a missing directory", filepath.Join(dir, "no such dir", "f"), fs.ErrNotExist},
		{"into a file where the directory should be", filepath.Join(notDir, "f"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, write := range []func(string, []byte, os.FileMode) error{WriteFile, CreateFile} {
				err := write(tt.path, []byte("x"), 0o600)
				if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("err %v, want %v", err, tt.want)
				}
			}
		})
	}
	if err := syncDir(filepath.Join(dir, "no such dir")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("syncDir of a missing directory: %v", err)
	}
}

// TestUnreadableDirectory: the file is renamed into a directory the
// writer may write but not read, so the directory cannot be opened to be
// fsynced: the write must fail, since its name is not known to be
// durable. And a directory it may not write refuses the write. Root
// passes every permission check, so as root the test runs itself as
// nobody.
func TestUnreadableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		runAsNobody(t, "TestUnreadableDirectory")
		return
	}
	for _, tt := range []struct {
		name string
		mode os.FileMode
	}{
		{"write and search, no read", 0o300},
		{"read and search, no write", 0o500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			if err := WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("WriteFile: %v, want a permission error", err)
			}
			if err := os.Chmod(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			noTemp(t, dir)
		})
	}
}
