package browser_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/node/nodetest/served"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// This module reaches the node only through stable entry points:
// devmesh.Build to make the courts' data directories, node.New, Serve,
// Ready and APIAddr to run them, the config file to wire them, and the
// local HTTP API (with node/api's request types and node/dashboard's
// answer) for everything the story does.

// Amounts of transfer A.
const (
	storyOriginFen    = 300_000_00
	storyRecoveredFen = 1_250_000_00
)

// story is the mesh the dashboard test looks at, after the story: A
// 指令执行 from 京0105 to 京0108, handed over despite a measure near
// expiry, received and with progress reported; B 提级执行 to 京01,
// accepted; C designated to 京0108 with an acceptance deadline already
// passed (overdue); D offered, waiting for the decision.
type story struct {
	t      *testing.T
	courts []devmesh.Court
	mesh   *devmesh.Mesh
	nodes  map[court.CourtCode]*node.Node
	// offered is transfer D, waiting for 京01's decision.
	offered string
	// summary, if set, changes every generated case file before its
	// import (the decide story gives the cases' assets and debtors
	// regions, so that the offers carry a region summary).
	summary func(*importer.CaseFile)
	// assets counts the assets of each imported case, by case number.
	assets map[string]int
}

func storyCourts() []devmesh.Court {
	c := func(code, parent string) devmesh.Court {
		return devmesh.Court{Code: court.CourtCode(code), Parent: court.CourtCode(parent), Roles: []crypto.Role{crypto.RoleCourt}}
	}
	return []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		c("京", ""), c("京01", ""), c("京02", ""), c("京0105", ""), c("京0108", ""), c("京0102", "京02"),
	}
}

// freePorts reserves n loopback TCP ports for the nodes' libp2p listeners.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startStory builds and starts the courts, every node bootstrapping to
// every other through its config, and plays the story.
func startStory(t *testing.T) *story {
	t.Helper()
	s := startCourts(t, storyCourts(), nil)
	s.play()
	return s
}

// startRegionStory is the story with two more courts under 京01 (京0106
// 丰台, 京0107 石景山) and region fields in every case file: the debtor
// lives in 京0106's district (110106), the assets lie, in turn, in
// 110108, 110107 and 110106. D's offer then carries a region summary, and
// 京01 ranks four candidates: 京0108 and 京0107 eligible, 京0106 excluded
// as the debtor's district, 京0105 as the origin.
func startRegionStory(t *testing.T) *story {
	t.Helper()
	c := func(code string) devmesh.Court {
		return devmesh.Court{Code: court.CourtCode(code), Roles: []crypto.Role{crypto.RoleCourt}}
	}
	s := startCourts(t, append(storyCourts(), c("京0106"), c("京0107")), nil)
	s.summary = func(f *importer.CaseFile) {
		for i := range f.Parties {
			if f.Parties[i].Role == string(court.RoleRespondent) {
				f.Parties[i].Region = string(storyDebtorRegion)
			}
		}
		for i := range f.Assets {
			f.Assets[i].Region = string(storyAssetRegions[i%len(storyAssetRegions)])
		}
	}
	s.play()
	return s
}

// The regions of the region story's case files.
var (
	storyDebtorRegion = court.RegionCode("110106")
	storyAssetRegions = []court.RegionCode{"110108", "110107", "110106"}
)

// startCourts builds and starts courts, every node bootstrapping to every
// other through its config; extra, if set, adds lines to a court's config.
func startCourts(t *testing.T, courts []devmesh.Court, extra func(court.CourtCode) string) *story {
	t.Helper()
	s := &story{t: t, courts: courts, nodes: map[court.CourtCode]*node.Node{}}
	m, err := devmesh.Build(t.TempDir(), s.courts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.mesh = m
	ports := freePorts(t, len(m.Dirs))
	for i, d := range m.Dirs {
		var boot []string
		for j, c := range m.Certs {
			if j != i {
				boot = append(boot, fmt.Sprintf("%q", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", ports[j], c.PeerID)))
			}
		}
		cfg := fmt.Sprintf(`version = 1
listen = ["/ip4/127.0.0.1/tcp/%d"]
bootstrap = [%s]
api_listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"
reconnect_interval = "1s"
sync_interval = "1s"
heartbeat_interval = "1s"
`, ports[i], strings.Join(boot, ", "))
		if extra != nil {
			cfg += extra(s.courts[i].Code)
		}
		if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		s.nodes[s.courts[i].Code] = startNode(t, node.Options{Dir: d})
	}
	return s
}

func startNode(t *testing.T, o node.Options) *node.Node {
	t.Helper()
	n, _ := served.Start(t, o)
	return n
}

// token is a court's API token.
func (s *story) token(code court.CourtCode) string {
	for i, c := range s.courts {
		if c.Code == code {
			tok, err := s.mesh.Dirs[i].Token()
			if err != nil {
				s.t.Fatal(err)
			}
			return tok
		}
	}
	s.t.Fatalf("no court %s", code)
	return ""
}

// call sends a request to code's local API and decodes a 2xx answer into
// out; any other answer is returned as an error with its body.
func (s *story) call(code court.CourtCode, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.nodes[code].APIAddr()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token(code))
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s on %s: %s %s", method, path, code, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (s *story) do(code court.CourtCode, method, path string, body, out any) {
	s.t.Helper()
	if err := s.call(code, method, path, body, out); err != nil {
		s.t.Fatal(err)
	}
}

// transfer is the part of GET /v1/transfers/{id} the story reads.
type transfer struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	AmountRecovered int64  `json:"amount_recovered_fen"`
}

// expectEverywhere waits until every node holds transfer id in state.
func (s *story) expectEverywhere(id, state string) {
	s.t.Helper()
	nodetest.PollUntil(s.t, 30*time.Second, "transfer "+id+" "+state+" everywhere", func() bool {
		for code := range s.nodes {
			var tr transfer
			if err := s.call(code, "GET", "/v1/transfers/"+id, nil, &tr); err != nil || tr.State != state {
				return false
			}
		}
		return true
	})
}

// cases imports count generated cases into code's node and splits their
// numbers into those with an active measure expiring within 30 days and
// those without.
func (s *story) cases(code court.CourtCode, count int) (safe, expiring []string) {
	s.t.Helper()
	cs, err := gen.Generate(filepath.Join(s.t.TempDir(), "cases"), gen.Options{Cases: count, Seed: 7, Court: code})
	if err != nil {
		s.t.Fatal(err)
	}
	if s.assets == nil {
		s.assets = map[string]int{}
	}
	for _, c := range cs {
		p := filepath.Join(c.Dir, "case.json")
		b, err := os.ReadFile(p)
		if err != nil {
			s.t.Fatal(err)
		}
		var f importer.CaseFile
		if err := json.Unmarshal(b, &f); err != nil {
			s.t.Fatal(err)
		}
		if s.summary != nil {
			s.summary(&f)
			if b, err = json.Marshal(f); err != nil {
				s.t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				s.t.Fatal(err)
			}
		}
		s.assets[c.Number.String()] = len(f.Assets)
		s.do(code, "POST", "/v1/cases/import", api.ImportRequest{Path: c.Dir}, nil)
	}
	var exp api.ExpiringResult
	s.do(code, "GET", "/v1/measures/expiring?within=30", nil, &exp)
	near := map[string]bool{}
	for _, m := range exp.Measures {
		near[m.Case] = true
	}
	for _, c := range cs {
		if near[c.Number.String()] {
			expiring = append(expiring, c.Number.String())
		} else {
			safe = append(safe, c.Number.String())
		}
	}
	return safe, expiring
}

func (s *story) play() {
	t := s.t
	safe, expiring := s.cases("京0105", 12)
	if len(safe) < 4 || len(expiring) < 1 {
		t.Fatalf("the generator made %d safe and %d expiring cases; the story needs 4 and 1", len(safe), len(expiring))
	}
	var tr transfer

	// A: 指令执行 to 京0108, handed over with an override, received.
	origin := int64(storyOriginFen)
	s.do("京0105", "POST", "/v1/transfers", api.OfferRequest{CaseNumber: expiring[0], Superior: "京01", Grounds: []string{"long_unexecuted"}, AmountRecoveredFen: &origin}, &tr)
	a := tr.ID
	s.expectEverywhere(a, "offered")
	s.do("京01", "POST", "/v1/transfers/"+a+"/decide", api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监21号"}, nil)
	s.expectEverywhere(a, "decided")
	s.do("京0108", "POST", "/v1/transfers/"+a+"/accept", api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 2101)}, nil)
	s.expectEverywhere(a, "accepted")
	s.do("京0105", "POST", "/v1/transfers/"+a+"/handover", api.HandoverRequest{OverrideReason: "测试：续行裁定已送达，待系统更新"}, nil)
	s.expectEverywhere(a, "handed_over")
	s.do("京0108", "POST", "/v1/transfers/"+a+"/fetch", nil, nil)
	s.expectEverywhere(a, "received")
	s.do("京0108", "POST", "/v1/transfers/"+a+"/progress", api.ProgressRequest{AmountRecoveredFen: storyRecoveredFen, Status: "已扣划存款"}, nil)
	nodetest.PollUntil(t, 30*time.Second, "progress everywhere", func() bool {
		for code := range s.nodes {
			var tr transfer
			if err := s.call(code, "GET", "/v1/transfers/"+a, nil, &tr); err != nil || tr.AmountRecovered != storyRecoveredFen {
				return false
			}
		}
		return true
	})

	// B: 提级执行, accepted by 京01 itself.
	s.do("京0105", "POST", "/v1/transfers", api.OfferRequest{CaseNumber: safe[0], Superior: "京01", Grounds: []string{"capacity"}}, &tr)
	b := tr.ID
	s.expectEverywhere(b, "offered")
	s.do("京01", "POST", "/v1/transfers/"+b+"/decide", api.DecideRequest{Mode: "elevated", DecisionNumber: "（2026）京01执监22号"}, nil)
	s.expectEverywhere(b, "decided")
	s.do("京01", "POST", "/v1/transfers/"+b+"/accept", api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京01", court.TypeEnforcement, 122)}, nil)
	s.expectEverywhere(b, "accepted")

	// C: designated to 京0108, to accept by yesterday: overdue.
	s.do("京0105", "POST", "/v1/transfers", api.OfferRequest{CaseNumber: safe[1], Superior: "京01", Grounds: []string{"interference"}}, &tr)
	c := tr.ID
	s.expectEverywhere(c, "offered")
	yesterday := court.DateOf(time.Now()).AddDate(0, 0, -1).String()
	s.do("京01", "POST", "/v1/transfers/"+c+"/decide", api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监23号", AcceptBy: yesterday}, nil)
	s.expectEverywhere(c, "decided")

	// D: offered only; with a region summary, a case with two assets
	// or more, so that they can lie in more than one district.
	d := safe[2]
	if s.summary != nil {
		for _, n := range safe[2:] {
			if s.assets[n] >= 2 {
				d = n
				break
			}
		}
	}
	s.do("京0105", "POST", "/v1/transfers", api.OfferRequest{CaseNumber: d, Superior: "京01", Grounds: []string{"long_unexecuted"}}, &tr)
	s.expectEverywhere(tr.ID, "offered")
	s.offered = tr.ID

	// The operator heard every node's heartbeat.
	nodetest.PollUntil(t, 30*time.Second, "the operator sees every node online", func() bool {
		var mesh []struct {
			Online bool `json:"online"`
		}
		if err := s.call(court.Supreme, "GET", "/v1/mesh", nil, &mesh); err != nil {
			return false
		}
		online := 0
		for _, ch := range mesh {
			if ch.Online {
				online++
			}
		}
		return online == len(s.nodes)
	})
}

// dashboardJSON fetches GET /v1/dashboard with the bearer token.
func (s *story) dashboardJSON(code court.CourtCode) dashboard.Dashboard {
	s.t.Helper()
	var d dashboard.Dashboard
	s.do(code, "GET", "/v1/dashboard", nil, &d)
	return d
}
