package court_test

import (
	"errors"
	"fmt"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	base := errors.New("disk on fire")
	tests := []struct {
		name string
		err  error
		kind error
		msg  string
	}{
		{"plain", court.Errorf(court.ErrNotFound, "no case %s", "(2024)京0105执123号"), court.ErrNotFound, "no case (2024)京0105执123号"},
		{"wrapped", court.Errorf(court.ErrUnavailable, "store: %w", base), court.ErrUnavailable, "store: disk on fire"},
		{"fmt wrap of a kind", fmt.Errorf("import: %w", court.ErrInvalid), court.ErrInvalid, "import: invalid"},
		{"join picks precedence", errors.Join(court.ErrConflict, court.ErrPermission), court.ErrPermission, "conflict\nnot permitted"},
		{"internal", base, nil, "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := court.KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %v, want %v", got, tt.kind)
			}
			if tt.kind != nil && !errors.Is(tt.err, tt.kind) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.kind)
			}
			if tt.err.Error() != tt.msg {
				t.Errorf("message %q, want %q", tt.err.Error(), tt.msg)
			}
		})
	}
	if !errors.Is(court.Errorf(court.ErrUnavailable, "store: %w", base), base) {
		t.Error("the %w-wrapped cause is lost")
	}
	if court.KindOf(nil) != nil {
		t.Error("KindOf(nil) != nil")
	}
}
