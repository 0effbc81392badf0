package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/text/language"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
)

// TestRecommendationExclusionsSpeakTheLanguage: the table of `transfer
// recommend` (and the demo) gives each exclusion's reason in the
// language of the messages, from its code; in English, the node's text.
func TestRecommendationExclusionsSpeakTheLanguage(t *testing.T) {
	rec := advice.Recommendation{Transfer: "00112233445566778899aabbccddeeff", Decider: "京01", Weights: advice.Default()}
	rec.Weights.CourtRegions = map[court.CourtCode]court.RegionCode{"京71": "110105", "军": "110100"}
	for i, x := range advice.Exclusions {
		rec.Ranking = append(rec.Ranking, advice.Entry{Rank: i + 1, Court: "京0105", ExcludedCode: x, Excluded: x.Text()})
	}
	print := func(lang language.Tag) string {
		t.Helper()
		old := msgLang
		msgLang = lang
		defer func() { msgLang = old }()
		var b bytes.Buffer
		printRecommendation(&b, rec)
		return b.String()
	}
	zh, en := print(language.Chinese), print(language.English)
	for _, x := range advice.Exclusions {
		if w := localize(language.Chinese, x.Text()); w == x.Text() || !strings.Contains(zh, w) {
			t.Errorf("%s: the Chinese table lacks %q:\n%s", x, w, zh)
		}
		if !strings.Contains(en, x.Text()) {
			t.Errorf("%s: the English table lacks %q:\n%s", x, x.Text(), en)
		}
	}
	if strings.Contains(zh, "the origin court") || strings.Contains(zh, "district") {
		t.Errorf("the Chinese table still speaks English:\n%s", zh)
	}
	if w := sprintfIn(language.Chinese, "court regions configured: %s\n", "京71 110105, 军 110100"); !strings.Contains(zh, w) {
		t.Errorf("the Chinese table lacks the configured regions %q:\n%s", w, zh)
	}
	// A code this build does not know (a newer node) shows the node's text.
	if got := exclusionText(advice.Entry{ExcludedCode: "future", Excluded: "some new reason"}); got != "some new reason" {
		t.Errorf("unknown code: %q", got)
	}
}
