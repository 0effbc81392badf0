package mesh

import "testing"

// TestRedialBacksOffWhileUncertified: a node its own bundle does not
// certify dials in the first round, then after 2, 4, 8 ... rounds, never
// fewer than once in maxRedialBackoff rounds; certified again, it dials
// every round at once.
func TestRedialBacksOffWhileUncertified(t *testing.T) {
	var r redial
	for i := range 5 {
		if !r.due(true) {
			t.Fatalf("certified, round %d: not due", i)
		}
	}
	var dialled []int
	const rounds = 1000
	for i := range rounds {
		if r.due(false) {
			dialled = append(dialled, i)
		}
	}
	want := []int{0, 2, 6, 14, 30, 62, 126}
	for i, w := range want {
		if i >= len(dialled) || dialled[i] != w {
			t.Fatalf("uncertified: dialled in rounds %v, want it to begin %v", dialled, want)
		}
	}
	for i := 1; i < len(dialled); i++ {
		if gap := dialled[i] - dialled[i-1]; gap > maxRedialBackoff {
			t.Fatalf("uncertified: %d rounds between dials %d and %d, want at most %d", gap, i-1, i, maxRedialBackoff)
		}
	}
	if n := len(dialled); n > 6+rounds/maxRedialBackoff+1 {
		t.Errorf("uncertified: %d dials in %d rounds, want about %d", n, rounds, 6+rounds/maxRedialBackoff)
	}
	if !r.due(true) || !r.due(true) {
		t.Error("certified again: not due every round")
	}
}
