package fetch

import (
	"testing"
	"time"
)

// TestStreamsForRTT: one stream on a short link; on a long one enough
// 16 MiB windows for 1 Gbit/s over the round trip, plus one.
func TestStreamsForRTT(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		rtt  time.Duration
		want int
	}{
		{500 * time.Microsecond, 1},
		{9 * ms, 1},
		{10 * ms, 2},
		{30 * ms, 2},
		{50 * ms, 2},
		{0, 2}, // not measured: taken as 50 ms
		{200 * ms, 3},
		{400 * ms, 4},
		{2 * time.Second, fetchMaxStreams},
	} {
		if got := streamsForRTT(c.rtt); got != c.want {
			t.Errorf("streamsForRTT(%v) = %d, want %d", c.rtt, got, c.want)
		}
	}
}
