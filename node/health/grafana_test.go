package health

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"courtmesh.dev/courtmesh/node/metrics"
)

// TestGrafanaDashboard parses dist/prometheus's Grafana dashboard and
// checks that every series its panels query is a gauge the node exports
// or a series the recording rules record.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../dist/prometheus/courtmesh-grafana.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels")
	}
	rules, err := os.ReadFile("../../dist/prometheus/courtmesh-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`record: (\S+)`).FindAllStringSubmatch(string(rules), -1) {
		known[m[1]] = true
	}
	ch := make(chan *prometheus.Desc, 64)
	(&supervisionCollector{}).Describe(ch)
	(&stateCollector{}).Describe(ch)
	metrics.NewComplaintCollector(nil, nil).Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for desc := range ch {
		known[fq.FindStringSubmatch(desc.String())[1]] = true
	}
	series := regexp.MustCompile(`courtmesh[_:][a-z_:]+`)
	n := 0
	for _, p := range d.Panels {
		if p.Title == "" || p.Type == "" || len(p.Targets) == 0 {
			t.Errorf("panel %q of type %q has no title, type or query", p.Title, p.Type)
		}
		for _, tg := range p.Targets {
			for _, s := range series.FindAllString(tg.Expr, -1) {
				n++
				if !known[strings.TrimSuffix(s, ":")] {
					t.Errorf("panel %q queries %s, which no gauge or recording rule provides", p.Title, s)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no series queried")
	}
}
