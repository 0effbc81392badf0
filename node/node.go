package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/assets"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/cases"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/evidence"
	"courtmesh.dev/courtmesh/node/fetch"
	"courtmesh.dev/courtmesh/node/funds"
	"courtmesh.dev/courtmesh/node/health"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/metrics"
	"courtmesh.dev/courtmesh/node/party"
	"courtmesh.dev/courtmesh/node/records"
	"courtmesh.dev/courtmesh/node/trust"
	"courtmesh.dev/courtmesh/node/users"
	"courtmesh.dev/courtmesh/node/workflow"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/storage"
)

// Version is the courtmesh version reported in status and heartbeats.
var Version = "0.1.0-dev"

// Options configure a Node.
type Options struct {
	// Dir is the data directory (required).
	Dir datadir.Dir
	// Config is the configuration; zero means config.Load(Dir/config.toml).
	Config *config.Config
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// OnTransferChange, if set, is called after a transfer's state changed
	// in the store (benchmarks time propagation with it; it must not block).
	OnTransferChange func(*cmproto.Transfer)

	// GossipTracer, if set, sees every gossipsub RPC the node receives
	// and sends (pubsub.WithRawTracer): tests tap the mesh's messages with
	// it. It must not block.
	GossipTracer pubsub.RawTracer

	// HostOptions are passed to mesh.NewHost: benchmarks put a node inside
	// a network namespace of their own with mesh.WithSockets.
	HostOptions []mesh.HostOption

	// bypassGater lets every connection through the gater, so that tests
	// can show that the stream-level checks hold on their own.
	bypassGater bool
}

// Node is one court's courtmesh daemon: host, pubsub, trust, API.
type Node struct {
	court    court.CourtCode // this node's court, from its certificate (a code never changes)
	dir      datadir.Dir
	cfg      config.Config
	log      *slog.Logger
	now      func() time.Time
	key      *crypto.NodeKey
	enc      crypto.Decrypter
	trust    *trust.Service
	gater    *mesh.Gater
	h        host.Host
	gh       *mesh.GuardedHost
	ps       *pubsub.PubSub
	started  time.Time
	api      *api.Server
	db       *storage.DB
	xfer     *records.Service
	assets   *assets.Service
	fetch    *fetch.Service
	workflow *workflow.Service
	funds    *funds.Service
	metrics  *metrics.Metrics
	health   *health.Service
	audit    *audit.Service
	party    *party.Service
	portal   *party.Portal // nil unless party_listen is set
	// ctx bounds background jobs (fetches); cancelled when Serve returns.
	ctx       context.Context
	cancelCtx context.CancelFunc

	metricsAddr atomic.Value
	partyAddr   atomic.Value
	apiAddr     string
	ready       chan struct{}
	readyOnce   sync.Once
	closeOnce   sync.Once
	closeErr    error
}

// New loads the data directory and builds the node. It listens at once;
// Serve runs it.
//
// It is long on purpose: the composition of every room in order, each
// built from what the ones before it provide.
func New(opts Options) (*Node, error) {
	if opts.Dir == "" {
		return nil, errors.New("node: no data directory")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var cfg config.Config
	if opts.Config != nil {
		cfg = opts.Config.WithDefaults()
	} else {
		var err error
		if cfg, err = config.Load(opts.Dir.Path(datadir.ConfigFile)); err != nil {
			return nil, err
		}
	}
	if err := cases.CheckExportsDir(string(opts.Dir), cfg.ExportsDir); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	nk, ek, err := opts.Dir.Keys()
	if err != nil {
		return nil, err
	}
	signer, err := opts.Dir.Signer()
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	ts, err := trust.New(trust.Deps{Dir: opts.Dir, Self: nk.PeerID(), Log: log, Now: now, Metrics: m})
	if err != nil {
		return nil, err
	}
	self, err := ts.Trust().ByPeer(nk.PeerID(), now())
	if err != nil {
		return nil, fmt.Errorf("this node (%s) is not certified by the trust bundle in force: %w", nk.PeerID(), err)
	}
	if suite := ts.Trust().Suite(); signer.Suite() != suite {
		return nil, fmt.Errorf("this node's keys are of suite %s but its national root runs suite %s: %w", signer.Suite().Name(), suite.Name(), crypto.ErrMixedSuite)
	}
	if self.EncKEM != ek.KEM() {
		return nil, fmt.Errorf("this node's enc.key (KEM %#x) is not of the kind its certificate %d names (KEM %#x): %w", ek.KEM(), self.Serial, self.EncKEM, crypto.ErrMixedSuite)
	}
	log = log.With("court", string(self.Code))
	ts.SetLogger(log)
	n := &Node{
		dir: opts.Dir, cfg: cfg, log: log, now: now, key: nk, enc: ek, trust: ts, court: self.Code,
		metrics: m, ready: make(chan struct{}),
	}
	// ctx is the node's life: gossipsub and background jobs run on it;
	// Serve and Close cancel it.
	n.ctx, n.cancelCtx = context.WithCancel(context.Background())
	fail := func(err error) (*Node, error) {
		n.Close()
		return nil, err
	}
	n.gater = mesh.NewGater(ts, log, n.metrics, opts.bypassGater)
	h, err := mesh.NewHost(nk.Libp2p(), cfg.Listen, cfg.PSKFile, n.gater, ts, opts.HostOptions...)
	if err != nil {
		return fail(err)
	}
	n.h = h
	n.gh = mesh.NewGuardedHost(h, ts, log)
	var psOpts []pubsub.Option
	if opts.GossipTracer != nil {
		psOpts = append(psOpts, pubsub.WithRawTracer(opts.GossipTracer))
	}
	if n.ps, err = mesh.NewPubSub(n.ctx, n.gh, ts, psOpts...); err != nil {
		return fail(err)
	}
	if err := ts.Join(h, n.gh, n.ps, signer); err != nil {
		return fail(err)
	}
	token, err := opts.Dir.Token()
	if err != nil {
		return fail(err)
	}
	reserve := cfg.DiskReserve.N
	if reserve == 0 {
		reserve = -1 // disk_reserve = "0": none
	}
	chunks, err := cfg.ChunkStore.Open(ts.Trust().Suite())
	if err != nil {
		return fail(fmt.Errorf("open the chunk store: %w", err))
	}
	db, err := storage.Open(string(opts.Dir), storage.Options{Decrypter: ek, Logger: log, Now: now, Suite: ts.Trust().Suite(), Reserve: reserve, Chunks: chunks})
	if err != nil {
		if chunks != nil {
			chunks.Close()
		}
		return fail(fmt.Errorf("open the store: %w", err))
	}
	n.db = db
	// The dashboard's statistics are sums the store keeps at write time;
	// a store written before them, or under another handover guard, has
	// them recomputed once, before anything writes a transfer.
	if err := db.EnsureTransferStats(n.ctx, dashboard.StatsKey(cfg.HandoverGuardDays), dashboard.Stats(cfg.HandoverGuardDays)); err != nil {
		return fail(fmt.Errorf("open the store: %w", err))
	}
	periods := cmproto.Periods{AcceptDays: cfg.AcceptanceDays, HandoverDays: cfg.HandoverDays, FilingDays: cfg.FilingDays,
		InvestigationMonths: cfg.InvestigationMonths, ConclusionMonths: cfg.ConclusionMonths, ReturnDays: cfg.ReturnDays, SupplementDays: cfg.SupplementDays}
	if err := periods.Validate(); err != nil {
		return fail(fmt.Errorf("config: the deadlines of this court's decisions: %w", err))
	}
	stats := func(t *cmproto.Transfer) map[string]int64 { return dashboard.Contribution(t, cfg.HandoverGuardDays) }
	auditLog, err := audit.New(audit.Deps{Store: db, Log: log, Registerer: n.metrics.Reg})
	if err != nil {
		return fail(err)
	}
	n.audit = auditLog
	db.SetOnDiskFull(func(write string) { n.metrics.DiskFull.WithLabelValues(write).Inc() })
	n.api = api.NewServer(n, token, log)
	if n.xfer, err = records.New(records.Deps{
		Audit: auditLog, Store: db, Trust: ts, Host: n.gh, PubSub: n.ps, Signer: signer, Metrics: n.metrics, Log: log, Now: now,
		Rules: cmproto.Rules{}, SyncEvery: cfg.SyncInterval.Duration, OnChange: opts.OnTransferChange,
		Stats: stats, Tags: funds.Tags,
	}); err != nil {
		return fail(err)
	}
	n.assets = assets.New(assets.Deps{
		Audit: auditLog, Store: db, Transfers: n.xfer, Trust: ts, Peer: nk.PeerID(), Decrypter: ek, Metrics: n.metrics, Log: log, Now: now,
		GuardDays: cfg.HandoverGuardDays,
	})
	n.xfer.SetApplied(n.assets.Applied)
	api.RegisterAssets(n.api, n.assets, now)
	n.fetch = fetch.New(fetch.Deps{
		Audit: auditLog, Store: db, Transfers: n.xfer, Trust: ts, Host: n.gh, Decrypter: ek, Metrics: n.metrics, Log: log, Now: now,
		Filed: n.assets.Poke,
		// n.health is built below, before any fetch starts.
		Addrs: func(p peer.ID) bool { return n.health.RestoreAddrs(p) },
	})
	weights, err := cfg.Recommend.Weights()
	if err != nil {
		return fail(err)
	}
	checkBack, err := cfg.CheckBackRule()
	if err != nil {
		return fail(err)
	}
	n.workflow = workflow.New(workflow.Deps{
		Audit: auditLog, Records: n.xfer, Store: db, Trust: ts, Peer: nk.PeerID(), Court: self.Code, Metrics: n.metrics, Log: log, Now: now,
		GuardDays: cfg.HandoverGuardDays, Periods: periods, AnswerDays: cfg.RequestAnswerDays, Logs: n.xfer, Advice: &weights,
		CheckBack: &checkBack,
		Decrypter: ek,
	})
	api.RegisterTransfers(n.api, n.workflow, n.fetch, now)
	// People: named accounts and their tokens; the API's one policy asks them who calls.
	n.api.SetGate(users.New(users.Deps{Store: db, Audit: auditLog, Transfer: n.workflow.Transfer, Now: now, Log: log}))
	n.funds = funds.New(funds.Deps{
		Audit: auditLog, Store: db, Transfers: n.xfer, Trust: ts, Peer: nk.PeerID(), Decrypter: ek, Log: log, Now: now,
		GuardDays: cfg.HandoverGuardDays, TemplateFile: opts.Dir.Path(funds.TemplateFile),
	})
	api.RegisterFunds(n.api, n.funds, now)
	api.RegisterJurisdiction(n.api, n.workflow)
	api.RegisterDirectives(n.api, n.workflow, now)
	api.RegisterReviews(n.api, n.workflow, now)
	api.RegisterCheckBacks(n.api, n.workflow)
	api.RegisterRecommend(n.api, n.workflow)
	n.api.Handle("GET "+dashboard.DecidePath, dashboard.NewDecideHandler(n.workflow.Recommend, n.workflow.Transfer, func(c court.CourtCode) string {
		if cert, err := ts.Trust().Court(c, now()); err == nil {
			return cert.Name
		}
		return ""
	}, log).ServeHTTP)
	n.party = party.New(party.Deps{Store: db, Records: n.xfer, Trust: ts, Decrypter: ek, Audit: auditLog, Court: self.Code, Log: log, Now: now,
		AnswerDays: cfg.ComplaintAnswerDays, Contact: cfg.PartyContact})
	m.Reg.MustRegister(metrics.NewComplaintCollector(func(ctx context.Context) ([]metrics.ComplaintCount, error) {
		is, err := n.party.Indicators(ctx)
		out := make([]metrics.ComplaintCount, 0, len(is))
		for _, i := range is {
			out = append(out, metrics.ComplaintCount{Court: i.Court, Total: i.Total, Answered: i.Answered, InTime: i.InTime, Overdue: i.Overdue})
		}
		return out, err
	}, log))
	if n.health, err = health.New(health.Deps{
		Host: h, PubSub: n.ps, Trust: ts, Key: signer, Store: db, Measure: n.assets, Complaints: n.party, Metrics: m, Now: now, Log: log, Life: n.ctx,
		Version: Version, HeartbeatEvery: cfg.HeartbeatInterval.Duration, SkewTolerance: cfg.ClockSkewTolerance.Duration, GuardDays: cfg.HandoverGuardDays,
		WebhookURL: cfg.WebhookURL, AlertEvery: cfg.SyncInterval.Duration, RecordHead: n.xfer.Head,
		MoreAlerts: func(ctx context.Context, asOf court.Date) ([]api.Alert, error) {
			out, err := n.funds.FundsAlerts(ctx, asOf)
			more, cerr := n.workflow.CheckBackAlerts(ctx, asOf)
			return append(out, more...), errors.Join(err, cerr)
		},
		Jurisdiction: n.workflow.Jurisdiction,
		ComplaintCounts: func(ctx context.Context) ([]api.ComplaintIndicator, error) {
			return n.party.Indicators(ctx)
		},
		CheckBacks: n.workflow.CheckBacks,
		Published:  db.PutPublishedHead,
	}); err != nil {
		return fail(err)
	}
	api.RegisterHealth(n.api, n.health, n.health.DashboardPage(), n.metrics.Handler())
	api.RegisterIndicators(n.api, n.health)
	api.RegisterAudit(n.api, auditLog)
	api.RegisterLogHead(n.api, n)
	api.RegisterEvidence(n.api, evidence.New(evidence.Deps{Store: db, Dir: opts.Dir, Key: nk, Audit: auditLog, Now: now}))
	api.RegisterCases(n.api, cases.New(cases.Deps{Store: db, Court: n.court, Now: now, Log: log,
		Audit: auditLog, DataDir: string(opts.Dir), ExportsDir: cfg.ExportsDir}))
	api.RegisterComplaints(n.api, n.party)
	if cfg.PartyListen != "" {
		if n.portal, err = party.NewPortal(n.party, party.PortalOptions{TrustProxy: cfg.PartyTrustProxy, SecureCookies: cfg.PartySecureCookies, Log: log, Now: now, Registerer: n.metrics.Reg, Lockouts: n.db}); err != nil {
			return fail(err)
		}
	}
	return n, nil
}

// Store returns the node's store. While the node runs, it is the only
// way to the store: Badger allows one process per directory.
func (n *Node) Store() *storage.DB { return n.db }

// Assets is the asset service: updates of transferred cases' assets and
// measures, and their alerts.
func (n *Node) Assets() *assets.Service { return n.assets }

// Fetcher is the fetch service: dossiers served to and fetched from the
// courts holding a grant.
func (n *Node) Fetcher() *fetch.Service { return n.fetch }

// Workflow is this court's side of the transfer steps (offer, decide,
// accept, hand over, ...).
func (n *Node) Workflow() *workflow.Service { return n.workflow }

// Funds is the room of the funds ledger, sanctions and notices.
func (n *Node) Funds() *funds.Service { return n.funds }

// Host returns the libp2p host (for tests and the demo).
func (n *Node) Host() host.Host { return n.h }

// PeerID is the node's peer ID.
func (n *Node) PeerID() peer.ID { return n.key.PeerID() }

// Addrs returns the node's full p2p addresses.
func (n *Node) Addrs() []ma.Multiaddr {
	info := peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}
	out, _ := peer.AddrInfoToP2pAddrs(&info)
	return out
}

// Trust returns the trust view in force.
func (n *Node) Trust() *crypto.Trust { return n.trust.Trust() }

// TrustStats counts the work the trust service did (bundles downloaded
// and opened, certificates verified): for tests and benchmarks.
func (n *Node) TrustStats() trust.Stats { return n.trust.Stats() }

// InstallBundleRaw installs a bundle or a delta as if pushed by an
// operator, and announces it to the mesh if it is newer. head is the
// whole bundle's root-signed head (`ca bundle` writes it beside the
// bundle), or nil: a whole bundle installed without one is audited
// (trust.bundle_without_head), since peers then download it whole before
// they can check it.
func (n *Node) InstallBundleRaw(ctx context.Context, raw, head []byte) (bool, error) {
	ok, err := n.trust.InstallAndAnnounce(ctx, raw, head)
	if ok && len(head) == 0 {
		if _, derr := crypto.PeekDelta(raw); derr != nil { // a whole bundle
			seq := n.trust.Trust().Bundle().Sequence
			n.log.Warn("trust bundle installed without its root-signed head; peers download it whole before they can check it", "sequence", seq)
			// After counts and logs a failure itself; the install stands.
			_ = n.audit.After(storage.AuditEntry{Event: "trust.bundle_without_head", Outcome: "ok", Person: api.ActorFrom(ctx),
				Detail: fmt.Sprintf("trust bundle %d installed and announced without its root-signed head: peers download it whole before they can check it", seq)})
		}
	}
	return ok, err
}

// Ready is closed when Serve has started every service.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// APIAddr is the bound local API TCP address once Ready.
func (n *Node) APIAddr() string { return n.apiAddr }

// Serve runs the node until ctx ends, then closes it.
func (n *Node) Serve(ctx context.Context) error {
	n.started = n.now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 16) // at least one slot per service
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	if n.portal != nil {
		// The party service: its own listener, off unless configured.
		l, err := net.Listen("tcp", n.cfg.PartyListen)
		if err != nil {
			cancel()
			n.cancelCtx()
			n.Close()
			return fmt.Errorf("party listener %s: %w", n.cfg.PartyListen, err)
		}
		n.partyAddr.Store(l.Addr().String())
		start("party", func(ctx context.Context) error { return n.portal.Serve(ctx, l) })
	}
	start("trust", n.trust.Serve)
	start("bootstrap", (&mesh.Bootstrap{Host: n.h, Admission: n.trust, Peers: n.cfg.Bootstrap, Every: n.cfg.ReconnectInterval.Duration, Log: n.log, Certified: n.trust.SelfCertified}).Serve)
	start("transfers", n.xfer.Serve)
	start("metrics", n.serveMetrics)
	start("assets", n.assets.Serve)
	start("health", n.health.Serve)
	apiReady := make(chan struct{})
	start("api", func(ctx context.Context) error {
		return n.api.Serve(ctx, n.dir.Path(datadir.SocketFile), n.cfg.APIListen, func(tcp string) {
			n.apiAddr = tcp
			if tcp != "" {
				if err := datadir.WriteFileAtomic(n.dir.Path(datadir.AddrFile), []byte(tcp+"\n"), 0o644); err != nil {
					// The API serves; only the CLI's discovery of its TCP address is lost.
					n.log.Warn("writing the API address file", "err", err)
				}
			}
			close(apiReady)
		})
	})
	select {
	case <-apiReady:
		n.log.Info("node running", "peer", n.h.ID(), "addrs", n.h.Addrs(), "api", n.apiAddr)
		n.readyOnce.Do(func() { close(n.ready) })
	case <-ctx.Done():
	}
	<-ctx.Done()
	n.cancelCtx()
	wg.Wait()
	err := n.Close()
	select {
	case e := <-errc:
		return e
	default:
	}
	return err
}

// Close stops the node and releases what it holds: its background jobs
// (fetches, trust pokes), gossipsub, the host and the store. Serve calls
// it on return; call it yourself for a node built but never served. It is
// safe to call more than once and returns the first call's error.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancelCtx()
		if n.fetch != nil {
			n.fetch.Close()
		}
		n.trust.Close()
		n.metrics.Gate.Shut() // no validator runs past this point
		if n.h != nil {
			n.closeErr = n.h.Close()
		}
		if n.db != nil {
			if err := n.db.Close(); err != nil && n.closeErr == nil {
				n.closeErr = err
			}
		}
		os.Remove(n.dir.Path(datadir.AddrFile))
	})
	return n.closeErr
}

// serveMetrics serves /metrics on the configured listener until ctx ends.
func (n *Node) serveMetrics(ctx context.Context) error {
	if n.cfg.MetricsListen == "off" {
		return nil
	}
	l, err := net.Listen("tcp", n.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics listener %s: %w", n.cfg.MetricsListen, err)
	}
	n.metricsAddr.Store(l.Addr().String())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// PartyAddr is the bound address of the party service ("" when it is
// off or not yet serving).
func (n *Node) PartyAddr() string {
	a, _ := n.partyAddr.Load().(string)
	return a
}

// Party is the party service's model (query codes, complaints).
func (n *Node) Party() *party.Service { return n.party }

// MetricsAddr is the bound metrics address ("" until Serve binds it).
func (n *Node) MetricsAddr() string {
	a, _ := n.metricsAddr.Load().(string)
	return a
}

// Status implements api.Backend.
func (n *Node) Status() api.Status {
	t := n.trust.Trust()
	b := t.Bundle()
	now := n.now()
	st := api.Status{
		Version: Version, PeerID: n.h.ID().String(), Started: n.started,
		Peers: len(n.h.Network().Peers()),
		Bundle: api.Bundle{
			Sequence: b.Sequence, IssuedAt: b.IssuedAt.UTC(), ExpiresAt: b.ExpiresAt.UTC(), State: b.Status(now).String(),
			DaysLeft: int(b.ExpiresAt.Sub(now).Hours() / 24), Certificates: len(b.Certs), Revocations: len(b.Revocations),
		},
	}
	for _, a := range n.h.Addrs() {
		st.ListenAddrs = append(st.ListenAddrs, a.String())
	}
	if n.health != nil {
		c := n.health.Clock()
		st.Clock = &c
	}
	if c, err := t.ByPeer(n.h.ID(), now); err == nil {
		st.CourtCode, st.CourtName, st.Serial, st.CertExpires = string(c.Code), c.Name, c.Serial, c.NotAfter.UTC()
		for _, r := range c.Roles {
			st.Roles = append(st.Roles, string(r))
		}
	}
	return st
}

// Peers implements api.Backend.
func (n *Node) Peers() []api.Peer {
	t := n.trust.Trust()
	out := []api.Peer{}
	for _, p := range n.h.Network().Peers() {
		ap := api.Peer{PeerID: p.String()}
		if c, err := t.ByPeer(p, n.now()); err == nil {
			ap.CourtCode, ap.CourtName, ap.Level = string(c.Code), c.Name, c.Level.String()
			for _, r := range c.Roles {
				ap.Roles = append(ap.Roles, string(r))
			}
		}
		for _, c := range n.h.Network().ConnsToPeer(p) {
			ap.Addrs = append(ap.Addrs, c.RemoteMultiaddr().String())
		}
		out = append(out, ap)
	}
	return out
}

// InstallBundle implements api.Backend.
func (n *Node) InstallBundle(ctx context.Context, raw, head []byte) (api.InstallResult, error) {
	// The node's context (the announcement is the node's), naming who pushed.
	ok, err := n.InstallBundleRaw(api.WithActor(n.ctx, api.ActorFrom(ctx)), raw, head)
	if err != nil {
		return api.InstallResult{}, err
	}
	return api.InstallResult{Installed: ok, Sequence: n.trust.Trust().Bundle().Sequence}, nil
}

var _ api.Backend = (*Node)(nil)

// self returns this node's certificate in the bundle in force.
func (n *Node) self() (*crypto.Certificate, error) {
	return n.trust.Trust().ByPeer(n.h.ID(), n.now())
}
