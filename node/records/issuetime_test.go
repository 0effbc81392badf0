package records

import (
	"testing"
	"time"
)

// TestIssueTimeStrictlyIncreasing: records this node issues in the same
// millisecond (or with the clock stepped back under a second) are dated a
// millisecond apart, so that the second of two progress reports is the
// newer one everywhere; a later clock is used as it is, and a clock set
// back by more than a second is not bridged.
func TestIssueTimeStrictlyIncreasing(t *testing.T) {
	var s Service
	t0 := time.Date(2026, 12, 7, 9, 30, 0, 123_456_789, time.UTC)
	ms := time.Millisecond
	steps := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"first", t0, t0.Truncate(ms)},
		{"same millisecond", t0.Add(100 * time.Microsecond), t0.Truncate(ms).Add(ms)},
		{"same millisecond again", t0, t0.Truncate(ms).Add(2 * ms)},
		{"the clock stepped back 500 ms", t0.Add(-500 * ms), t0.Truncate(ms).Add(3 * ms)},
		{"later", t0.Add(time.Second), t0.Add(time.Second).Truncate(ms)},
		{"the clock set back an hour", t0.Add(-time.Hour), t0.Add(-time.Hour).Truncate(ms)},
		{"then the same millisecond", t0.Add(-time.Hour), t0.Add(-time.Hour).Truncate(ms).Add(ms)},
	}
	for _, st := range steps {
		if got := s.issueTime(st.now); !got.Equal(st.want) {
			t.Errorf("%s: dated %s, want %s", st.name, got.Format(time.RFC3339Nano), st.want.Format(time.RFC3339Nano))
		}
	}
}
