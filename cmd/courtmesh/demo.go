package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/devmesh"
	"courtmesh.dev/courtmesh/node/mesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

func init() {
	register(&command{name: "demo", summary: "run a mesh of courts on this machine and play the story", run: runDemo})
}

// demo narrates the story, in the language of the messages (Chinese
// unless the locale asks for another).
type demo struct {
	w    io.Writer
	step int
	now  func() time.Time // the clock of the nodes, the data and the case numbers
	// filed is the number 京0108 files the story's case under (set by
	// demoTransfer, shown by the party's page).
	filed string
}

// caseNo is the number of court c's case or document of type typ (执,
// 执监, 执督 ...) and sequence seq in the year of the demo's clock: a
// receiver files a transferred case under a number of the year of its
// acceptance (or the year before).
func (d *demo) caseNo(c court.CourtCode, typ string, seq int) string {
	return fmt.Sprintf("（%d）%s%s%d号", court.DateOf(d.now()).Year, c, typ, seq)
}

// say starts the next step: key is the catalogue's message.
func (d *demo) say(key string, a ...any) {
	d.step++
	fmt.Fprintf(d.w, "\n[%d] %s\n", d.step, sprintf(key, a...))
}

// ok reports what a step verified: key is the catalogue's message.
func (d *demo) ok(key string, a ...any) { fmt.Fprintf(d.w, "    ✓ %s\n", sprintf(key, a...)) }

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("courtmesh demo", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	localFlags(fs)
	dir := fs.String("dir", "", "where to create the demo mesh (default: a new temporary directory)")
	once := fs.Bool("once", false, "play the story, verify every step, and exit (0 only if every step verified)")
	verbose := fs.Bool("v", false, "show the nodes' logs")
	suiteName := fs.String("suite", "v1", "the mesh's algorithm suite: v1 (Ed25519, ML-KEM-768+X25519, AES-256-GCM, SHA-256) or sm (SM2, SM3, SM4)")
	keep := fs.String("keep", "", "keep the nodes' data directories in this new or empty directory, one folder per court named by its code (DIR/京0108), for the CLI to read once the demo has stopped")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	suite, err := crypto.ParseSuite(*suiteName)
	if err != nil {
		return errorf("--suite: %w", err)
	}
	if *keep != "" {
		if *dir != "" && *dir != *keep {
			return errorf("give --dir or --keep, not both")
		}
		if ents, err := os.ReadDir(*keep); err == nil && len(ents) > 0 {
			return errorf("--keep %s: the directory is not empty", *keep)
		}
		*dir = *keep
	}
	if *dir == "" {
		var err error
		if *dir, err = os.MkdirTemp("", "courtmesh-demo-"); err != nil {
			return err
		}
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = newLogger(c.stderr, "text", slog.LevelInfo)
	}
	d := &demo{w: c.stdout, now: c.clock()}
	started := time.Now()

	courts := append(devmesh.DefaultCourts(), devmesh.Court{Code: "京0106", Roles: []crypto.Role{crypto.RoleCourt}})
	d.say("The national root certifies %d court nodes and signs the trust bundle (algorithm suite %s).", len(courts), suite)
	build := devmesh.BuildSuite
	if *keep != "" {
		build = devmesh.BuildByCode
	}
	m, err := build(*dir, courts, d.now(), suite)
	if err != nil {
		return err
	}
	for i, ct := range m.Certs {
		d.ok("%-6s %s  (%s)", ct.Code, ct.Name, m.Dirs[i])
	}

	// 京0105 also serves its parties (the party service, off by default).
	for i, ct := range courts {
		if ct.Code == "京0105" {
			if err := appendConfig(m.Dirs[i], "party_listen = \"127.0.0.1:0\"\nparty_contact = \"朝阳法院执行局（演示）\"\n"); err != nil {
				return err
			}
		}
	}

	d.say("Start every court's node on loopback and connect them.")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes := make([]*node.Node, len(m.Dirs))
	done := make(chan error, len(m.Dirs))
	for i, dd := range m.Dirs {
		n, err := node.New(node.Options{Dir: dd, Logger: log.With("node", string(courts[i].Code)), Now: d.now})
		if err != nil {
			return err
		}
		nodes[i] = n
		go func() { done <- n.Serve(ctx) }()
		select {
		case <-n.Ready():
		case err := <-done:
			return errorf("node %s stopped: %w", courts[i].Code, err)
		}
	}
	defer func() {
		cancel()
		for range m.Dirs { // every node started, the revoked one too (nodes is cut below)
			<-done
		}
	}()
	if err := demoConnect(ctx, nodes); err != nil {
		return err
	}
	for _, n := range nodes {
		st := n.Status()
		d.ok("%-6s sees %d certified peers; API %s", st.CourtCode, st.Peers, n.APIAddr())
	}

	d.say("An uncertified node tries to connect: every node refuses it.")
	refused, err := demoOutsider(ctx, nodes)
	if err != nil {
		return err
	}
	d.ok("refused by %d of %d nodes", refused, len(nodes))
	if refused != len(nodes) {
		return errorf("an uncertified node was admitted")
	}

	moved, err := demoTransfer(ctx, d, *dir, courts, nodes)
	if err != nil {
		return err
	}
	if err := demoModes(ctx, d, *dir, courts, nodes, moved); err != nil {
		return err
	}
	login, err := demoParty(ctx, d, courts, nodes, moved)
	if err != nil {
		return err
	}

	victim := len(nodes) - 1
	if err := demoRevoke(ctx, d, m, courts, nodes, victim); err != nil {
		return err
	}
	nodes = nodes[:victim]

	d.say("Demo complete (%s).", time.Since(started).Round(100*time.Millisecond))
	if *keep != "" {
		fprintf(c.stdout, "\n节点停止后数据保留在 The nodes' data is kept in %s (one folder per court). Once the demo has stopped, try:\n", *keep)
		fmt.Fprintf(c.stdout, "  courtmesh transfer list --data %s --json\n", filepath.Join(*keep, "京0108"))
		fmt.Fprintf(c.stdout, "  courtmesh evidence export --data %s TRANSFER --out evidence.json\n", filepath.Join(*keep, "京0108"))
		fmt.Fprintf(c.stdout, "  courtmesh evidence verify evidence.json --root %s\n", filepath.Join(*keep, "京0108", datadir.RootFile))
	}
	if *once {
		fprintf(c.stdout, "\n当事人查询 Party service (京0105): %s  案号 %s  查询码 %s  证件后4位 %s\n", login.url, login.caseNumber, login.code, login.last4)
		return nil
	}
	return demoRunning(ctx, c, m, courts, nodes, login)
}

// demoConnect connects every pair of nodes and waits until each sees
// all the others.
func demoConnect(ctx context.Context, nodes []*node.Node) error {
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.Host().Connect(cctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()})
			ccancel()
			if err != nil {
				return errorf("connect: %w", err)
			}
		}
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		for _, n := range nodes {
			if len(n.Peers()) != len(nodes)-1 {
				return false
			}
		}
		return true
	}); err != nil {
		return errorf("mesh did not form: %w", err)
	}
	return nil
}

// demoRevoke has the national root revoke the node at victim, pushes the
// new bundle from the operator node, and waits until every other node
// holds it and has dropped the revoked node.
func demoRevoke(ctx context.Context, d *demo, m *devmesh.Mesh, courts []devmesh.Court, nodes []*node.Node, victim int) error {
	d.say("The national root revokes %s; the operator node pushes the new bundle.", courts[victim].Code)
	b, err := m.Revoke(victim, "demo: key-compromise drill", d.now())
	if err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := nodes[0].InstallBundleRaw(ctx, b.Raw, b.Head); err != nil {
		return err
	}
	vid := nodes[victim].PeerID()
	if err := waitUntil(ctx, 10*time.Second, func() bool {
		for _, n := range nodes[:victim] {
			if n.Status().Bundle.Sequence != b.Sequence {
				return false
			}
			for _, p := range n.Host().Network().Peers() {
				if p == vid {
					return false
				}
			}
		}
		return true
	}); err != nil {
		return errorf("revoked node still connected: %w", err)
	}
	d.ok("bundle #%d in force on every node; %s disconnected everywhere in %v", b.Sequence, courts[victim].Code, time.Since(t0).Round(time.Millisecond))
	return nil
}

// demoRunning prints where to reach the nodes left running and waits
// until ctx ends (Ctrl-C).
func demoRunning(ctx context.Context, c *cli, m *devmesh.Mesh, courts []devmesh.Court, nodes []*node.Node, login partyLogin) error {
	if tok, err := os.ReadFile(m.Dirs[0].Path(datadir.TokenFile)); err == nil {
		fprintf(c.stdout, "\n监管看板 Operator dashboard (%s): http://%s/dashboard?token=%s\n", courts[0].Code, nodes[0].APIAddr(), strings.TrimSpace(string(tok)))
	}
	for i, n := range nodes {
		fprintf(c.stdout, "  %-6s dashboard http://%s/dashboard  metrics http://%s/metrics\n", courts[i].Code, n.APIAddr(), n.MetricsAddr())
	}
	fprintf(c.stdout, "\n当事人查询 Party service (京0105): %s\n  案号 case number: %s\n  查询码 query code: %s\n  证件号码后4位 last 4 of the ID number: %s\n",
		login.url, login.caseNumber, login.code, login.last4)
	fprintf(c.stdout, "\nThe nodes keep running. Try, in another terminal:\n")
	for i, n := range nodes {
		fprintf(c.stdout, "  courtmesh status --data %s    # %s, API on %s\n", m.Dirs[i], courts[i].Code, n.APIAddr())
	}
	fprintf(c.stdout, "Press Ctrl-C to stop.\n")
	<-ctx.Done()
	fprintf(c.stdout, "\nStopping the nodes…\n")
	return nil
}

// demoOutsider starts a node with keys no bundle certifies and counts the
// nodes that refuse it.
func demoOutsider(ctx context.Context, nodes []*node.Node) (int, error) {
	tmp, err := os.MkdirTemp("", "courtmesh-outsider-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	key, err := crypto.GenerateNodeKey()
	if err != nil {
		return 0, err
	}
	h, err := mesh.NewBareHost(key, []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		return 0, err
	}
	defer h.Close()
	refused := 0
	for _, n := range nodes {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h.Connect(cctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()})
		cancel()
		admitted := false
		for _, p := range n.Host().Network().Peers() {
			if p == h.ID() {
				admitted = true
			}
		}
		if !admitted {
			refused++
		}
	}
	return refused, nil
}

// waitUntil polls cond until it holds, the timeout passes or ctx ends.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errorf("not reached within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// demoTransfer plays a whole transfer between the demo courts.
//
// It is long on purpose: it tells the demo's story step by step, as the
// README narrates it.
func demoTransfer(ctx context.Context, d *demo, dir string, courts []devmesh.Court, nodes []*node.Node) (moved court.CaseNumber, err error) {
	by := map[court.CourtCode]*node.Node{}
	for i, c := range courts {
		by[c.Code] = nodes[i]
	}
	origin, decider, receiver := by["京0105"], by["京01"], by["京0108"]

	d.say("京0105 (朝阳) imports synthetic enforcement cases from its case-management system.")
	casesDir := filepath.Join(dir, "cases-京0105")
	cs, err := gen.Generate(casesDir, gen.Options{Cases: 6, Seed: 2024, Court: "京0105", RefDate: court.DateOf(d.now())})
	if err != nil {
		return court.CaseNumber{}, err
	}
	for _, c := range cs {
		if err := demoRegions(c.Dir); err != nil {
			return court.CaseNumber{}, err
		}
		if _, err := importer.Import(ctx, origin.Store(), c.Dir, importer.Options{}); err != nil {
			return court.CaseNumber{}, err
		}
	}
	// The case to move: the one with a freeze close to expiry.
	var pick gen.Case
	var near court.Measure
	today := court.DateOf(d.now())
	for _, c := range cs {
		ms, err := origin.Store().Measures(c.Number)
		if err != nil {
			return court.CaseNumber{}, err
		}
		for _, m := range ms {
			if m.Status == court.MeasureActive && !m.Expiry.IsZero() && today.DaysUntil(m.Expiry) <= 30 {
				pick, near = c, m
			}
		}
		if pick.Dir != "" {
			break
		}
	}
	if pick.Dir == "" {
		return court.CaseNumber{}, errorf("demo: the generator made no case with a measure near expiry")
	}
	d.ok("%d cases imported; %s has been stalled for over 6 months", len(cs), pick.Number)

	d.say("京0105 offers %s to its superior court 京01 for cross-execution.", pick.Number)
	tr, err := origin.Workflow().Offer(ctx, api.OfferRequest{CaseNumber: pick.Number.String(), Superior: "京01", Grounds: []string{"long_unexecuted", "interference"}})
	if err != nil {
		return court.CaseNumber{}, err
	}
	id := tr.ID
	if err := demoEverywhere(ctx, nodes, id, cmproto.StateOffered); err != nil {
		return court.CaseNumber{}, err
	}
	d.ok("offer %s reached all %d courts (outstanding %s)", id, len(nodes), yuan(tr.AmountOutstanding))

	d.say("京01 looks at the recommendation of the receiving court (where the assets are, distance from local ties, load, track record).")
	rec, err := decider.Workflow().Recommend(ctx, id)
	if err != nil {
		return court.CaseNumber{}, err
	}
	for _, e := range rec.Ranking {
		why := sprintf("assets here %.2f, in the city %.2f; distance origin %d, debtor %d; open %d, overdue %d",
			e.Factors.AssetShareDistrict, e.Factors.AssetShareCity, e.Factors.DistanceOrigin, e.Factors.DistanceDebtor, e.Factors.Open, e.Factors.Overdue)
		if !e.Eligible {
			why = sprintf("excluded: %s", exclusionText(e))
		}
		d.ok("%d. %s  score %.3f  (%s)", e.Rank, e.Court, e.Score, why)
	}

	d.say("京01 decides 指令执行: 京0108 (海淀) is to enforce the case.")
	if _, err := decider.Workflow().Decide(ctx, id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: d.caseNo("京01", "执监", 7), RecommendationHash: rec.InputsHash}); err != nil {
		return court.CaseNumber{}, err
	}
	if err := demoEverywhere(ctx, nodes, id, cmproto.StateDecided); err != nil {
		return court.CaseNumber{}, err
	}
	t, _ := receiver.Workflow().Transfer(id)
	d.ok("every court sees the decision; 京0108 must accept by %s", t.AcceptBy)
	d.ok("the decision notes that 京01 chose the court ranked %d in the recommendation (inputs %s…)", t.RecommendedRank, t.RecommendationHash[:12])

	// The receiver files under an 执 number of this year.
	d.filed = d.caseNo("京0108", "执", 1201)
	d.say("京0108 accepts and files the case as %s.", d.filed)
	if _, err := receiver.Workflow().Accept(ctx, id, api.AcceptRequest{NewCaseNumber: d.filed}); err != nil {
		return court.CaseNumber{}, err
	}
	if err := demoEverywhere(ctx, nodes, id, cmproto.StateAccepted); err != nil {
		return court.CaseNumber{}, err
	}
	d.ok("accepted everywhere")

	d.say("京0105 tries to hand the dossier over: refused, a measure expires within 30 days.")
	_, err = origin.Workflow().Handover(ctx, id, api.HandoverRequest{})
	if !errors.Is(err, court.ErrHandoverBlocked) {
		return court.CaseNumber{}, errorf("demo: handover should have been refused, got %v", err)
	}
	d.ok("%v", err)

	d.say("京0105 renews the freeze (%s) first, updates the case, and hands over again.", near.ID)
	if err := renewMeasure(pick.Dir, near, today); err != nil {
		return court.CaseNumber{}, err
	}
	res, err := importer.Import(ctx, origin.Store(), pick.Dir, importer.Options{})
	if err != nil {
		return court.CaseNumber{}, err
	}
	d.ok("case updated to version %d: 续行 until %s", res.Version, court.LegalExpiry(assetClassOf(origin, pick.Number, near.Asset), today))
	tr, err = origin.Workflow().Handover(ctx, id, api.HandoverRequest{})
	if err != nil {
		return court.CaseNumber{}, err
	}
	if err := demoEverywhere(ctx, nodes, id, cmproto.StateHandedOver); err != nil {
		return court.CaseNumber{}, err
	}
	d.ok("handover manifest: %d sealed chunks, Merkle root %x…, data key wrapped for 京0108 and 京01", tr.ChunkCount, tr.MerkleRoot[:8])

	d.say("京0108 fetches the sealed dossier, verifying every chunk against the manifest.")
	if _, err := decider.Fetcher().Fetch(ctx, id); err != nil { // the decider keeps a copy for supervision: a second source
		return court.CaseNumber{}, errorf("decider fetch: %w", err)
	}
	fp, err := receiver.Fetcher().Fetch(ctx, id)
	if err != nil {
		return court.CaseNumber{}, err
	}
	d.ok("%d chunks verified (%s) from %v; filed as %s", fp.Verified, humanBytes(fp.Bytes), fp.Sources, fp.NewCase)
	if err := demoEverywhere(ctx, nodes, id, cmproto.StateReceived); err != nil {
		return court.CaseNumber{}, err
	}
	newNo, err := court.ParseCaseNumber(fp.NewCase)
	if err != nil {
		return court.CaseNumber{}, err
	}
	if _, err := receiver.Store().VerifyCase(ctx, newNo); err != nil {
		return court.CaseNumber{}, errorf("demo: the received case does not verify: %w", err)
	}
	if err := waitUntil(ctx, 10*time.Second, func() bool {
		head, _, err := origin.Store().Case(pick.Number)
		return err == nil && head.Status == court.StatusTransferred
	}); err != nil {
		return court.CaseNumber{}, errorf("demo: the origin did not close its case: %w", err)
	}
	d.ok("receipt published: every court shows the transfer received; 京0105 closed %s by 销案", pick.Number)

	d.say("京0105 finds a vehicle in a new search; the sealed asset update reaches 京0108.")
	if _, err := origin.Assets().UpdateAssets(ctx, id, api.AssetChange{Kind: "search_result", MeasureKind: "seal",
		Asset: &api.NewAsset{ID: "a90", Class: "vehicle", Description: "小型轿车一辆（总对总查询）", Source: "national_search", Account: "京A·99999", ValueFen: 8_500_000}}); err != nil {
		return court.CaseNumber{}, err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		ta, err := receiver.Assets().TransferAssets(id, today)
		if err != nil {
			return false
		}
		for _, a := range ta.Assets {
			if a.ID == "a90" {
				return true
			}
		}
		return false
	}); err != nil {
		return court.CaseNumber{}, errorf("demo: the asset update did not reach the receiver: %w", err)
	}
	d.ok("京0108's case now holds the vehicle and its 查封 (2-year term); the plate stays sealed")

	amount := int64(1_250_000_00)
	if t, err := receiver.Workflow().Transfer(id); err == nil && t.AmountOutstanding > 0 {
		amount = min(amount, t.AmountOutstanding)
	}
	if err := demoAfterHandover(ctx, d, nodes, origin, receiver, id, amount); err != nil {
		return court.CaseNumber{}, err
	}

	d.say("京0108 reports progress.")
	if _, err := receiver.Workflow().Progress(ctx, id, api.ProgressRequest{AmountRecoveredFen: amount, Status: "已扣划存款，房产进入评估拍卖"}); err != nil {
		return court.CaseNumber{}, err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		for _, n := range nodes {
			if t, err := n.Workflow().Transfer(id); err != nil || t.AmountRecovered != amount {
				return false
			}
		}
		return true
	}); err != nil {
		return court.CaseNumber{}, errorf("progress did not reach every court: %w", err)
	}
	recon, err := receiver.Funds().Reconcile(id, court.DateOf(d.now()))
	if err != nil {
		return court.CaseNumber{}, err
	}
	if !recon.Balanced {
		return court.CaseNumber{}, errorf("demo: the receiver's report does not match the ledger: %v", recon.Problems)
	}
	d.ok("every court records %s recovered by the receiver; the report matches the funds ledger", yuan(amount))
	return pick.Number, nil
}

// demoEverywhere waits until every node holds the transfer in state.
func demoEverywhere(ctx context.Context, nodes []*node.Node, id court.TransferID, state cmproto.State) error {
	return demoEverywhereThat(ctx, nodes, id, string(state), func(t api.Transfer) bool { return t.State == state })
}

// demoEverywhereThat waits until every node's view of transfer id
// satisfies ok (what names it in the error).
func demoEverywhereThat(ctx context.Context, nodes []*node.Node, id court.TransferID, what string, ok func(api.Transfer) bool) error {
	err := waitUntil(ctx, 15*time.Second, func() bool {
		for _, n := range nodes {
			if t, err := n.Workflow().Transfer(id); err != nil || !ok(t) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return errorf("transfer %s did not reach %s on every court: %w", id, what, err)
	}
	return nil
}

func assetClassOf(n *node.Node, cn court.CaseNumber, asset string) court.AssetClass {
	if _, v, err := n.Store().Case(cn); err == nil {
		for _, a := range v.Assets {
			if a.ID == asset {
				return a.Class
			}
		}
	}
	return court.AssetOther
}

// renewMeasure edits a case folder's case.json as the court's
// case-management system would after a renewal ruling (续行): the old
// measure is marked renewed and a renewal carries the term on.
func renewMeasure(caseDir string, m court.Measure, today court.Date) error {
	p := filepath.Join(caseDir, "case.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	ms, _ := doc["measures"].([]any)
	var class court.AssetClass
	if assets, ok := doc["assets"].([]any); ok {
		for _, a := range assets {
			if am, ok := a.(map[string]any); ok && am["id"] == m.Asset {
				class = court.AssetClass(fmt.Sprint(am["class"]))
			}
		}
	}
	for _, x := range ms {
		if mm, ok := x.(map[string]any); ok && mm["id"] == m.ID {
			mm["status"] = "renewed"
		}
	}
	ms = append(ms, map[string]any{
		"id": m.ID + "r", "kind": "renewal", "asset": m.Asset, "effective": today.String(),
		"expiry": court.LegalExpiry(class, today).String(), "renews": m.ID, "status": "active", "court": string(m.Court),
	})
	doc["measures"] = ms
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(p, out, 0o644)
}

// demoRegions gives a generated case the region codes an offer's region
// summary is made of: the debtor domiciled in 朝阳 (110105), deposits
// there, everything else in 海淀 (110108).
func demoRegions(dir string) error {
	p := filepath.Join(dir, "case.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var f importer.CaseFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	for i := range f.Parties {
		if f.Parties[i].Role == string(court.RoleRespondent) {
			f.Parties[i].Region = "110105"
		}
	}
	for i := range f.Assets {
		f.Assets[i].Region = "110108"
		if f.Assets[i].Class == "deposit" {
			f.Assets[i].Region = "110105"
		}
	}
	if b, err = json.MarshalIndent(f, "", "  "); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o600)
}
