package api

import (
	"net/http/httptest"
	"testing"
)

// ?superior= of a dashboard request names the superior whose trends an
// operator's dashboard shows; anything but a court code is refused.
func TestParseTrendsOf(t *testing.T) {
	for _, c := range []struct{ q, want string }{{"", ""}, {"京", "京"}, {"%E4%BA%AC01", "京01"}} {
		ctx, err := ParseTrendsOf(httptest.NewRequest("GET", "/v1/dashboard?superior="+c.q, nil))
		if err != nil || string(TrendsOf(ctx)) != c.want {
			t.Errorf("superior=%s: %q, %v; want %q", c.q, TrendsOf(ctx), err, c.want)
		}
	}
	for _, q := range []string{"x", "%3Cscript%3E", "京0105x"} {
		if _, err := ParseTrendsOf(httptest.NewRequest("GET", "/v1/dashboard?superior="+q, nil)); err == nil {
			t.Errorf("superior=%s accepted", q)
		}
	}
}
