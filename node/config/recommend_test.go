package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/advice"
)

func TestRecommendConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(t *testing.T, body string) (Config, error) {
		t.Helper()
		p := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(p, []byte("version = 1\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if w, err := c.Recommend.Weights(); err != nil || w.Assets != advice.Default().Assets || !w.ExcludeLocal {
		t.Errorf("no [recommend]: %+v, %v; want the defaults", w, err)
	}
	c, err = load(t, "[recommend]\nassets = 2.5\nnear = 0\nexclude_local = false\nexclude = [\"苏0211\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Recommend.Weights()
	if err != nil || w.Assets != 2.5 || w.Near != 0 || w.ExcludeLocal || len(w.Exclude) != 1 || w.Exclude[0] != "苏0211" || w.Load != advice.Default().Load {
		t.Errorf("configured: %+v, %v", w, err)
	}
	// Regions for courts whose code names none (or the wrong one).
	c, err = load(t, "[recommend]\ncourt_regions = { \"京71\" = \"110105\", \"军\" = \"110100\" }\n")
	if err != nil {
		t.Fatal(err)
	}
	w, err = c.Recommend.Weights()
	if err != nil || len(w.CourtRegions) != 2 || w.CourtRegions["京71"] != "110105" || w.CourtRegions["军"] != "110100" {
		t.Errorf("court_regions: %+v, %v", w.CourtRegions, err)
	}
	if r, ok := w.RegionOf("京71"); !ok || r != "110105" {
		t.Errorf("the configured region of 京71: %q, %v", r, ok)
	}
	for _, bad := range []string{"assets = -1", "load_half = 0", "exclude = [\"苏X\"]", "weight = 3",
		"court_regions = { \"京71\" = \"北京市朝阳区\" }", "court_regions = { \"京71\" = \"11010\" }", "court_regions = { \"京71\" = \"990105\" }",
		"court_regions = { \"京71\" = \"110005\" }", "court_regions = { \"X71\" = \"110105\" }", "court_regions = { \"京71\" = \"110105\", \"京７１\" = \"110106\" }",
		"court_regions = { \"京71\" = 110105 }"} {
		if _, err := load(t, "[recommend]\n"+bad+"\n"); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", bad, err)
		}
	}
	// The default file's commented table, uncommented, is the defaults.
	var table []string
	on := false
	for _, l := range strings.Split(DefaultConfigText, "\n") {
		if l == "# [recommend]" {
			on = true
		}
		if on && strings.HasPrefix(l, "# ") {
			table = append(table, strings.TrimPrefix(l, "# "))
		}
	}
	c, err = load(t, strings.Join(table, "\n")+"\n")
	if err != nil {
		t.Fatalf("the default file's [recommend], uncommented: %v", err)
	}
	if w, err := c.Recommend.Weights(); err != nil || w.Assets != 4 || w.Track != 4 || w.LoadHalf != 10 || w.PriorCases != 5 || w.Lapse != 2 || w.Near != 1 || w.Overdue != 1 || !w.ExcludeLocal || len(w.CourtRegions) != 0 {
		t.Errorf("documented defaults %+v differ from advice.Default %+v (%v)", w, advice.Default(), err)
	}
}
