package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
)

func TestDecideView(t *testing.T) {
	const id = court.TransferID("00112233445566778899aabbccddeeff")
	in := advice.Input{
		Case: advice.Case{Transfer: id, Origin: "京0105", Decider: "京01", OriginRegion: "110105", DebtorRegion: "110105",
			Holdings: []advice.Holding{{Region: "110108", Class: "real_estate", Count: 1, Band: court.BandUnder10M}}},
		Candidates: []advice.Candidate{{Court: "京0105", Region: "110105"}, {Court: "京0108", Region: "110108"}, {Court: "京0106", Region: "110106"}},
		Weights:    advice.Default(),
	}
	rec := advice.Rank(in)
	tr := api.Transfer{ID: id, CaseNumber: "（2025）京0105执123号", Origin: "京0105", Superior: "京01", State: "offered", DebtorRegion: "110105",
		RegionAssets: []api.RegionAssets{{Region: "110108", Class: "real_estate", Count: 1, Band: 3}}}
	h := NewDecideHandler(func(context.Context, court.TransferID) (advice.Recommendation, error) { return rec, nil },
		func(got court.TransferID) (api.Transfer, error) {
			if got != id {
				return api.Transfer{}, court.Errorf(court.ErrNotFound, "no transfer %s", got)
			}
			return tr, nil
		}, nil, nil)
	for lang, words := range map[string][]string{"zh": {"受理法院推荐", "原执行法院", "1m-10m", `data-testid="holding-class-110108-real_estate">不动产<`}, "en": {"Which court should take the case", "the origin court", `data-testid="holding-class-110108-real_estate">Real estate<`}} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", DecidePath+"?transfer="+string(id)+"&lang="+lang, nil))
		body := rr.Body.String()
		if rr.Code != 200 {
			t.Fatalf("%s: %d %s", lang, rr.Code, body)
		}
		for _, w := range append(words, rec.InputsHash, `data-testid="rank-京0108">1<`, `data-testid="rank-京0105">3<`, "--to 京0108") {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
	}
	for q, want := range map[string]int{"?transfer=xyz": http.StatusBadRequest, "?transfer=ffffffffffffffffffffffffffffffff": http.StatusNotFound, "?transfer=" + string(id) + "&lang=fr": http.StatusBadRequest} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", DecidePath+q, nil))
		if rr.Code != want {
			t.Errorf("%s: %d, want %d", q, rr.Code, want)
		}
	}
}

// TestExclusionWords: every reason of exclusion the recommendation gives
// has its words in both languages, the English ones those of the code.
func TestExclusionWords(t *testing.T) {
	for _, x := range advice.Exclusions {
		key := "excluded." + string(x)
		if _, ok := messages[key]; !ok {
			t.Errorf("%s: no words", key)
			continue
		}
		if en := translate(LangEN, key); en != x.Text() {
			t.Errorf("%s in English: %q, the code says %q", key, en, x.Text())
		}
		if zh := translate(LangZH, key); zh == x.Text() || zh == string(x) {
			t.Errorf("%s in Chinese: %q", key, zh)
		}
	}
}
