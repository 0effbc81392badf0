package ca

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCrashDebris: the temporary files a crash leaves behind (a write cut
// short before its rename) neither hide nor corrupt the state.
func TestCrashDebris(t *testing.T) {
	root := newRoot(t)
	c := must(root.Issue(courtTemplate(t, "沪0101")))
	if _, err := root.Bundle(fixNow, bundleV, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(root.dir, tempPrefix+StateFile+".tmp123"),
		filepath.Join(root.dir, IssuedDir, tempPrefix+"77.cert.tmp456"),
	} {
		if err := os.WriteFile(p, []byte("half a fil"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reopened, err := Open(root.dir)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := reopened.Issued()
	if err != nil {
		t.Fatalf("Issued with a temporary file in issued/: %v", err)
	}
	if len(certs) != 1 || certs[0].Serial != c.Serial {
		t.Fatalf("Issued: %v", certs)
	}
	b, err := reopened.Bundle(fixNow, bundleV, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Sequence != 2 {
		t.Fatalf("sequence %d, want 2", b.Sequence)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	tests := []struct {
		name      string
		exclusive bool
		data      string
		want      string
		wantErr   error
	}{
		{name: "create", data: "one", want: "one"},
		{name: "replace", data: "two", want: "two"},
		{name: "exclusive over an existing file", exclusive: true, data: "three", want: "two", wantErr: os.ErrExist},
		{name: "exclusive, new", exclusive: true, data: "four", want: "four"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "exclusive, new" {
				path = filepath.Join(dir, fmt.Sprint("g", i))
			}
			var err error
			if tt.exclusive {
				err = createFile(path, []byte(tt.data), 0o640)
			} else {
				err = writeFile(path, []byte(tt.data), 0o640)
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
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if isTemp(e.Name()) {
					t.Fatalf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
	if err := writeFile(filepath.Join(dir, "no such dir", "f"), []byte("x"), 0o600); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("write into a missing directory: %v", err)
	}
}
