package node_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
)

// scrape fetches a node's /metrics from its metrics listener, as
// Prometheus does.
func scrape(t *testing.T, n *node.Node) []byte {
	t.Helper()
	addr := n.MetricsAddr()
	if addr == "" {
		t.Fatal("the node has no metrics listener")
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return body
}

// value returns the value of the sample of family name whose labels
// include want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_UNTYPED:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	total := 0.0
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
				continue next
			}
		}
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return total
}

// TestMetricsExposition scrapes the nodes of a mesh after a transfer was
// handed over: the exposition parses with the Prometheus text parser,
// passes promlint's naming review, carries the expected families with
// sane values, and no label value that could name a case or a party.
func TestMetricsExposition(t *testing.T) {
	s := newScenario(t)
	safe, expiring := s.cases("京0105", 4)
	id := s.handedOver(t, append(safe, expiring...)[0])

	for _, code := range []string{"最高法", "京0105", "京0108"} {
		t.Run(code, func(t *testing.T) {
			n := s.as(court.CourtCode(code))
			body := scrape(t, n)

			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("the exposition does not parse: %v\n%s", err, body)
			}
			for name, f := range fams {
				if len(f.GetMetric()) == 0 || f.GetHelp() == "" {
					t.Errorf("family %s: %d samples, help %q", name, len(f.GetMetric()), f.GetHelp())
				}
			}

			problems, err := promlint.New(bytes.NewReader(body)).Lint()
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range problems {
				t.Errorf("promlint: %s: %s", pr.Metric, pr.Text)
			}

			peers := float64(len(s.tm.nodes) - 1)
			now := float64(time.Now().Unix())
			checks := []struct {
				name   string
				labels map[string]string
				ok     func(float64) bool
				want   string
			}{
				{"courtmesh_peers", nil, func(v float64) bool { return v == peers }, "every other node"},
				{"courtmesh_connections_admitted_total", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
				{"courtmesh_transfers", map[string]string{"state": "handed_over"}, func(v float64) bool { return v == 1 }, "1"},
				{"courtmesh_transfers", map[string]string{"state": "offered"}, func(v float64) bool { return v == 0 }, "0"},
				{"courtmesh_transfers_overdue", nil, func(v float64) bool { return v == 0 }, "0"},
				{"courtmesh_trust_bundle_sequence", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
				{"courtmesh_trust_bundle_expiry_timestamp_seconds", nil, func(v float64) bool { return v > now && v < now+40*86400 }, "within 40 days"},
				{"courtmesh_trust_bundle_age_seconds", nil, func(v float64) bool { return v >= 0 && v < 3600 }, "< 1 h"},
				{"courtmesh_certificate_expiry_timestamp_seconds", nil, func(v float64) bool { return v > now }, "in the future"},
				{"courtmesh_audit_log_entries", nil, func(v float64) bool { return v >= 0 }, ">= 0"},
				{"courtmesh_measures_expiring", map[string]string{"within_days": "30"}, func(v float64) bool { return v >= 0 }, ">= 0"},
			}
			for _, c := range checks {
				v, ok := value(fams, c.name, c.labels)
				if !ok {
					t.Errorf("%s%v missing", c.name, c.labels)
				} else if !c.ok(v) {
					t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.want)
				}
			}
			// Four records of the transfer (offer, decision, acceptance,
			// handover) went through every node.
			if got := sum(fams, "courtmesh_records_total", nil); got < 4 {
				t.Errorf("courtmesh_records_total sums to %v, want >= 4", got)
			}
			if got := sum(fams, "courtmesh_gossip_messages_total", map[string]string{"result": "accepted"}); got < 1 {
				t.Errorf("courtmesh_gossip_messages_total{result=accepted} sums to %v", got)
			}
			// No case-level label: no transfer id, case number or court
			// name in any label value.
			for name, f := range fams {
				for _, m := range f.GetMetric() {
					for _, lp := range m.GetLabel() {
						if v := lp.GetValue(); strings.Contains(v, string(id)) || strings.ContainsAny(v, "（）执号") {
							t.Errorf("%s carries a case-level label %s=%q", name, lp.GetName(), v)
						}
					}
				}
			}
		})
	}
}
