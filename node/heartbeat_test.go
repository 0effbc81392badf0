package node_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// hbInterval is the heartbeat interval of the test meshes.
const hbInterval = 200 * time.Millisecond

// hbBuild builds a mesh whose nodes publish a heartbeat every hbInterval.
func hbBuild(t *testing.T, courts []devmesh.Court) *devmesh.Mesh {
	t.Helper()
	m, err := devmesh.Build(t.TempDir(), courts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Dirs {
		cfg := devmesh.LoopbackConfig + fmt.Sprintf("heartbeat_interval = %q\n", hbInterval.String())
		if err := os.WriteFile(d.Path(datadir.ConfigFile), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func hbConnect(t *testing.T, a, b *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

// hbRow returns the Mesh row of the node with peer ID p.
func hbRow(n *node.Node, p peer.ID) (api.CourtHealth, bool) {
	for _, ch := range n.Health().Mesh() {
		if ch.PeerID == p.String() {
			return ch, true
		}
	}
	return api.CourtHealth{}, false
}

func hbCourts(rows []api.CourtHealth) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Court)
	}
	return out
}

// Heartbeats reach the nodes of the same province and an operator that
// follows every province, and nothing else; a node dials a court it never
// met from the signed address record its heartbeat carried.
func TestHeartbeatReachesProvinceAndOperator(t *testing.T) {
	m := hbBuild(t, []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		{Code: "京", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "沪", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "沪0101", Roles: []crypto.Role{crypto.RoleCourt}},
	})
	var ns []*node.Node
	for _, d := range m.Dirs {
		ns = append(ns, startNode(t, node.Options{Dir: d, Logger: testLogger(t)}))
	}
	op, jing, jing0105, hu, hu0101 := ns[0], ns[1], ns[2], ns[3], ns[4]
	// A star around the operator, plus 沪 - 沪0101: 京 and 京0105 never
	// connect to each other; the operator relays the 京 topic.
	for _, n := range ns[1:] {
		hbConnect(t, op, n)
	}
	hbConnect(t, hu, hu0101)
	for i := range 5 {
		if _, err := jing.Store().Audit(storage.AuditEntry{Event: "test.event", Outcome: "ok", Detail: fmt.Sprintf("entry %d", i)}); err != nil {
			t.Fatal(err)
		}
	}

	nodetest.PollUntil(t, 20*time.Second, "the operator hears every court", func() bool {
		rows := op.Health().Mesh()
		online := 0
		for _, r := range rows {
			if r.Online {
				online++
			}
		}
		return len(rows) == 5 && online == 5
	})
	nodetest.PollUntil(t, 20*time.Second, "京0105 hears 京 with its audit head", func() bool {
		r, ok := hbRow(jing0105, jing.PeerID())
		seq, head, _ := jing.Store().AuditHead()
		return ok && r.Online && r.AuditLength == seq && r.AuditHead == head && seq >= 5
	})
	r, _ := hbRow(jing0105, jing.PeerID())
	if r.Court != "京" || r.Province != "京" || r.Version != node.Version || r.BundleSequence != 1 || r.Peers < 1 || len(r.Flags) != 0 {
		t.Errorf("京 as 京0105 sees it: %+v", r)
	}
	// Each province's nodes follow their own province only.
	if got := hbCourts(jing0105.Health().Mesh()); !slices.Equal(got, []string{"京", "京0105"}) {
		t.Errorf("京0105 follows %v, want [京 京0105]", got)
	}
	nodetest.PollUntil(t, 20*time.Second, "沪0101 hears 沪", func() bool {
		r, ok := hbRow(hu0101, hu.PeerID())
		return ok && r.Online
	})
	if got := hbCourts(hu0101.Health().Mesh()); !slices.Equal(got, []string{"沪", "沪0101"}) {
		t.Errorf("沪0101 follows %v, want [沪 沪0101]", got)
	}
	// Over the API too.
	var rows []api.CourtHealth
	if err := apiGet(t, op, m.Dirs[0], "/v1/mesh", &rows); err != nil || len(rows) != 5 {
		t.Errorf("GET /v1/mesh on the operator: %d rows, %v", len(rows), err)
	}

	// 京0105 never connected to 京: its heartbeat's signed peer record is
	// the only way 京0105 knows where 京 listens.
	if jing0105.Host().Network().Connectedness(jing.PeerID()) == 1 {
		t.Fatal("京0105 is connected to 京 already; the test needs them apart")
	}
	nodetest.PollUntil(t, 10*time.Second, "京0105 holds 京's signed addresses", func() bool {
		return len(jing0105.Host().Peerstore().Addrs(jing.PeerID())) > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := jing0105.Host().Connect(ctx, peer.AddrInfo{ID: jing.PeerID()}); err != nil {
		t.Errorf("dial 京 from its signed peer record: %v", err)
	}
}

// apiGet GETs path from the local API of the node of d.
func apiGet(t *testing.T, n *node.Node, d datadir.Dir, path string, out any) error {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+n.APIAddr()+path, nil)
	if err != nil {
		return err
	}
	tok, err := d.Token()
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// rogue is a certified node's key on a bare libp2p host with courtmesh's
// gossipsub settings: it relays whatever it is given, as a compromised or
// buggy peer would.
type rogue struct {
	ps    *pubsub.PubSub
	topic *pubsub.Topic
}

func newRogue(t *testing.T, d datadir.Dir, target *node.Node, province court.CourtCode) *rogue {
	t.Helper()
	nk, _, err := d.Keys()
	if err != nil {
		t.Fatal(err)
	}
	h, err := node.NewHostForTest(nk.Libp2p(), []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithGossipSubProtocols(cmproto.GossipSubProtocols, func(f pubsub.GossipSubFeature, p protocol.ID) bool {
			return f == pubsub.GossipSubFeatureMesh || f == pubsub.GossipSubFeaturePX || f == pubsub.GossipSubFeatureIdontwant
		}),
		pubsub.WithMessageIdFn(func(m *pubsubpb.Message) string { s := sha256.Sum256(m.Data); return string(s[:]) }),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
	)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(cmproto.TopicHeartbeat(province))
	if err != nil {
		t.Fatal(err)
	}
	// No subscription: the rogue publishes through fanout, straight to the
	// topic's peers, without waiting for a mesh to form.
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if err := h.Connect(cctx, peer.AddrInfo{ID: target.PeerID(), Addrs: target.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	// The rogue knows the target subscribes once the target's stream has
	// spoken; it can send once its own stream to the target is open.
	nodetest.PollUntil(t, 10*time.Second, "the target in the rogue's topic, reachable", func() bool {
		if !slices.Contains(topic.ListPeers(), target.PeerID()) {
			return false
		}
		for _, c := range h.Network().ConnsToPeer(target.PeerID()) {
			for _, st := range c.GetStreams() {
				if st.Protocol() == cmproto.GossipSubProtocols[0] && st.Stat().Direction == network.DirOutbound {
					return true
				}
			}
		}
		return false
	})
	return &rogue{ps: ps, topic: topic}
}

func (r *rogue) publish(t *testing.T, b []byte) {
	t.Helper()
	if err := r.topic.Publish(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// heartbeat signs a plausible heartbeat of code with key as serial.
func heartbeat(t *testing.T, key crypto.Signer, serial uint64, code court.CourtCode, sentAt time.Time) []byte {
	t.Helper()
	env, err := crypto.SealMessage(key, serial, cmproto.PayloadHeartbeat, &pb.Heartbeat{
		Version: cmproto.HeartbeatVersion, Court: string(code), SentAt: sentAt.UnixMilli(), IntervalMs: uint32(hbInterval.Milliseconds()),
		UptimeSeconds: 1, Peers: 1, BundleSequence: 1, SoftwareVersion: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var metricLine = regexp.MustCompile(`^courtmesh_gossip_(rejected|messages)_total\{(.*)\} (\S+)$`)

// gossipCounts scrapes n's metrics: heartbeat-topic rejections by reason
// and messages by result.
func gossipCounts(t *testing.T, n *node.Node, topic string) (rejected, results map[string]int) {
	t.Helper()
	resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rejected, results = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil || !strings.Contains(m[2], `topic="`+topic+`"`) {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		label := regexp.MustCompile(`(reason|result)="([^"]*)"`).FindStringSubmatch(m[2])
		if label == nil {
			continue
		}
		if m[1] == "rejected" {
			rejected[label[2]] += int(v)
		} else {
			results[label[2]] += int(v)
		}
	}
	return rejected, results
}

// A genuine heartbeat relayed by a peer is accepted; forged ones from the
// same peer are rejected, each for its reason; a replayed older one is
// ignored.
func TestHeartbeatForgeriesRejected(t *testing.T) {
	m := hbBuild(t, []devmesh.Court{
		{Code: "京", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "沪0101", Roles: []crypto.Role{crypto.RoleCourt}},
		{Code: "京0108", Roles: []crypto.Role{crypto.RoleCourt}},
	})
	target := startNode(t, node.Options{Dir: m.Dirs[0], Logger: testLogger(t)})
	topic := cmproto.TopicHeartbeat("京")
	r := newRogue(t, m.Dirs[1], target, "京")
	keys := make([]*crypto.NodeKey, len(m.Dirs))
	for i, d := range m.Dirs {
		nk, _, err := d.Keys()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = nk
	}
	now := time.Now()

	// 京0108 is revoked; the target learns it before the forgeries come.
	b, err := m.Revoke(3, "key compromised (test)", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.InstallBundleRaw(context.Background(), b.Raw, b.Head); err != nil {
		t.Fatal(err)
	}

	// The rogue relays a genuine heartbeat of 京0105 (its own): accepted.
	// This also shows the rogue's gossip reaches the target, so that what
	// follows is refused by the validator, not lost on the way.
	r.publish(t, heartbeat(t, keys[1], m.Certs[1].Serial, "京0105", now))
	nodetest.PollUntil(t, 10*time.Second, "the genuine heartbeat recorded", func() bool {
		row, ok := hbRow(target, keys[1].PeerID())
		return ok && row.Online && row.Version == "test"
	})

	forgeries := []struct {
		name, reason string
		msg          []byte
	}{
		{"bad signature", "bad_signature", heartbeat(t, keys[1], m.Certs[0].Serial, "京", now)}, // 京0105's key, 京's serial
		{"wrong province", "not_authorised", heartbeat(t, keys[2], m.Certs[2].Serial, "沪0101", now)},
		{"revoked signer", "revoked_signer", heartbeat(t, keys[3], m.Certs[3].Serial, "京0108", now)},
		{"unknown signer", "unknown_signer", heartbeat(t, keys[1], 4242, "京0105", now)},
		{"court not the signer's", "malformed", heartbeat(t, keys[1], m.Certs[1].Serial, "京", now)},
		{"not an envelope", "malformed", []byte("courtmesh heartbeat, trust me")},
	}
	for _, f := range forgeries {
		t.Run(f.name, func(t *testing.T) {
			before, _ := gossipCounts(t, target, topic)
			r.publish(t, f.msg)
			nodetest.PollUntil(t, 10*time.Second, "rejection for "+f.reason, func() bool {
				after, _ := gossipCounts(t, target, topic)
				return after[f.reason] > before[f.reason]
			})
		})
	}
	for _, i := range []int{2, 3} {
		if row, ok := hbRow(target, keys[i].PeerID()); ok && !row.LastHeartbeat.IsZero() {
			t.Errorf("the forged heartbeat of %s was recorded: %+v", m.Courts[i].Code, row)
		}
	}
	if row, ok := hbRow(target, keys[3].PeerID()); !ok || !slices.Contains(row.Flags, "revoked") {
		t.Errorf("revoked 京0108: %+v, want flag revoked", row)
	}

	// An older one is stale: ignored, and the newer one stays.
	_, before := gossipCounts(t, target, topic)
	r.publish(t, heartbeat(t, keys[1], m.Certs[1].Serial, "京0105", now.Add(-time.Minute)))
	nodetest.PollUntil(t, 10*time.Second, "the stale heartbeat ignored", func() bool {
		_, after := gossipCounts(t, target, topic)
		return after["ignored"] > before["ignored"]
	})
	if row, _ := hbRow(target, keys[1].PeerID()); row.LastHeartbeat.IsZero() || row.Version != "test" {
		t.Errorf("京0105 after a stale heartbeat: %+v", row)
	}
}

// auditKey is the store key of audit entry seq (storage/audit.go).
func auditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("au/"), seq) }

// A node whose audit log is cut back (its last entries removed and its
// head record set back, as someone hiding an event would) is flagged
// audit_rewound by the operator that witnessed the longer log.
func TestHeartbeatAuditRewound(t *testing.T) {
	m := hbBuild(t, []devmesh.Court{
		{Code: court.Supreme, Roles: []crypto.Role{crypto.RoleCourt, crypto.RoleOperator}},
		{Code: "京0105", Roles: []crypto.Role{crypto.RoleCourt}},
	})
	op := startNode(t, node.Options{Dir: m.Dirs[0], Logger: testLogger(t)})
	victim, stop := startStoppable(t, node.Options{Dir: m.Dirs[1], Logger: testLogger(t)})
	hbConnect(t, victim, op)
	for i := range 10 {
		if _, err := victim.Store().Audit(storage.AuditEntry{Event: "test.event", Outcome: "ok", Detail: fmt.Sprintf("entry %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seq, _, _ := victim.Store().AuditHead()
	nodetest.PollUntil(t, 20*time.Second, "the operator witnesses the head", func() bool {
		r, ok := hbRow(op, victim.PeerID())
		return ok && r.AuditLength >= seq
	})
	pid := victim.PeerID()
	stop()

	db, err := storage.Open(string(m.Dirs[1]), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	last, _, err := db.AuditHead()
	if err != nil || last < 4 {
		t.Fatalf("audit head %d: %v", last, err)
	}
	cut := last - 3
	es, err := db.AuditEntries(cut, cut)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit entry %d: %v", cut, err)
	}
	err = db.Badger().Update(func(txn *badger.Txn) error {
		for s := cut + 1; s <= last; s++ {
			if err := txn.Delete(auditKey(s)); err != nil {
				return err
			}
		}
		head, _ := json.Marshal(map[string]any{"seq": cut, "hash": es[0].Hash})
		return txn.Set([]byte("meta/audit-head"), head)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	victim, _ = startStoppable(t, node.Options{Dir: m.Dirs[1], Logger: testLogger(t)})
	hbConnect(t, victim, op)
	nodetest.PollUntil(t, 20*time.Second, "the operator flags the rewound log", func() bool {
		r, ok := hbRow(op, pid)
		return ok && r.Online && slices.Contains(r.Flags, "audit_rewound")
	})
	alerts := op.Health().Alerts(context.Background())
	if !slices.ContainsFunc(alerts, func(a api.Alert) bool {
		return a.Kind == "audit_inconsistent" && a.Court == "京0105" && a.Severity == "critical"
	}) {
		t.Errorf("operator alerts %+v, want audit_inconsistent for 京0105", alerts)
	}
}
