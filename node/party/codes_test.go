package party

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormaliseCode(t *testing.T) {
	for in, want := range map[string]string{
		"ABCD-EFGH-JKMN": "ABCDEFGHJKMN",
		"abcd efgh jkmn": "ABCDEFGHJKMN",
		"oOiI-lL00-1111": "001111001111",
		"ABCD-EFGH-JKM":  "",
		"ABCD-EFGH-JKMU": "", // U is not in the alphabet
		"ＡＢＣＤ-ＥＦＧＨ-ＪＫＭＮ": "",
		"<script>":       "",
	} {
		if got := NormaliseCode(in); got != want {
			t.Errorf("NormaliseCode(%q) = %q, want %q", in, got, want)
		}
	}
	for range 100 {
		c := NewCode()
		if NormaliseCode(FormatCode(c)) != c || len(c) != CodeLength {
			t.Fatalf("a new code %q does not read back", c)
		}
	}
}

func FuzzNormaliseCode(f *testing.F) {
	for _, s := range []string{"ABCD-EFGH-JKMN", "oOiI lL00 1111", "", "－　", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := NormaliseCode(s)
		if c == "" {
			return
		}
		if len(c) != CodeLength || NormaliseCode(c) != c || NormaliseCode(FormatCode(c)) != c {
			t.Fatalf("NormaliseCode(%q) = %q: not a stable code", s, c)
		}
		for _, r := range c {
			if !strings.ContainsRune(codeAlphabet, r) {
				t.Fatalf("NormaliseCode(%q) = %q holds %q", s, c, r)
			}
		}
		if l := NormaliseLast4(s); l != "" && (len(l) != 4 || !utf8.ValidString(l)) {
			t.Fatalf("NormaliseLast4(%q) = %q", s, l)
		}
	})
}

// TestLimiterArithmetic checks the lockouts the docs count: after
// MaxFailures a lockout of FirstLockout, doubling, capped at MaxLockout;
// a success does not lift a lockout; the level is forgotten after
// LevelMemory without failures.
func TestLimiterArithmetic(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(CaseLimits, func() time.Time { return now })
	var got []time.Duration
	tries := 0
	for len(got) < 14 {
		if d := l.locked("k"); d > 0 {
			now = now.Add(d)
			continue
		}
		tries++
		if d := l.fail("k"); d > 0 {
			got = append(got, d)
		}
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1440, 1440, 1440}
	for i := range want {
		if got[i] != want[i]*time.Minute {
			t.Fatalf("lockouts %v, want %v minutes", got, want)
		}
	}
	if tries != 14*CaseLimits.MaxFailures {
		t.Errorf("%d tries for 14 lockouts", tries)
	}
	l.fail("k")
	l.succeed("k")
	now = now.Add(CaseLimits.LevelMemory + time.Minute)
	for i := 1; i < CaseLimits.MaxFailures; i++ {
		if l.fail("k") != 0 {
			t.Fatalf("locked after %d failures once the level was forgotten", i)
		}
	}
	if d := l.fail("k"); d != CaseLimits.FirstLockout {
		t.Errorf("the first lockout after the level was forgotten: %v", d)
	}
	small := newLimiter(Limits{MaxFailures: 1, FirstLockout: time.Minute, MaxLockout: time.Hour, LevelMemory: time.Hour, MaxKeys: 10}, func() time.Time { return now })
	for i := range 100 {
		small.fail(string(rune('a' + i)))
	}
	if small.locked("a") == 0 {
		t.Errorf("a locked key was dropped to make room")
	}
}
