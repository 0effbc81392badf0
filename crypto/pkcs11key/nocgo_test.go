//go:build !cgo

package pkcs11key

import (
	"errors"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

// TestNoCgoRefuses: a build without cgo (the static arm64 and loong64
// builds) says that PKCS#11 is unavailable, with the kind the CLI maps to
// its "unavailable" exit status, and names the token and the fix.
func TestNoCgoRefuses(t *testing.T) {
	if Available {
		t.Fatal("Available is true in a build without cgo")
	}
	r := Ref{Module: "/usr/lib/softhsm/libsofthsm2.so", Token: "court"}
	for name, f := range map[string]func(Ref) (*Key, error){"Generate": Generate, "Open": Open} {
		k, err := f(r)
		if k != nil || !errors.Is(err, ErrUnavailable) || court.KindOf(err) != court.ErrUnavailable {
			t.Fatalf("%s = %v, %v; want ErrUnavailable (kind unavailable)", name, k, err)
		}
		for _, want := range []string{`"court"`, "cgo", "file"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not mention %s", name, err, want)
			}
		}
	}
}
