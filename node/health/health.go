package health

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/dashboard"
	"courtmesh.dev/courtmesh/node/metrics"
	"courtmesh.dev/courtmesh/storage"
)

// TrustView is the trust bundle in force as the health room reads it.
// node/trust's Service implements it. Trust is safe for concurrent use;
// OnInstall is called while the node is being built, before Serve.
type TrustView interface {
	// Trust returns the trust view in force (never nil).
	Trust() *crypto.Trust
	// OnInstall registers f, called after each newer bundle is installed.
	OnInstall(f func(*crypto.Trust))
}

// Store is the part of the store the health room reads: the audit log's
// head and checkpoints, the transfer counters and indexed pages, the
// measure expiry index and the record log heads. None of these reads
// grows with the number of transfers held. storage.DB implements it.
type Store interface {
	AuditHead() (uint64, string, error)
	AuditEntries(from, to uint64) ([]storage.AuditEntry, error)
	TransferCounts() (map[string]uint64, error)
	CourtTransferCounts(c court.CourtCode) (map[string]uint64, error)
	CountOverdue(ctx context.Context, at court.Date) (int, error)
	CountCourtOverdue(ctx context.Context, c court.CourtCode, at court.Date) (int, error)
	TransferStats(c court.CourtCode) (map[string]int64, error)
	TransferStatsPrefix(c court.CourtCode, prefix string) (map[string]int64, error)
	TransferStatsRanges(c court.CourtCode, rs ...storage.StatsRange) (map[string]int64, error)
	OverdueEntries(ctx context.Context, at court.Date, limit int) ([]storage.DueEntry, bool, error)
	ExpiringMeasures(ctx context.Context, asOf court.Date, within int) ([]storage.ExpiringMeasure, error)
	LogHeads() (map[court.PeerID]uint64, error)
	// Space is the data directory's disk: free space, reserve, refusals.
	Space() storage.Space
}

var _ Store = (*storage.DB)(nil)

// Complaints lists the parties' complaints past their answer-by date
// that this court supervises or is complained of (node/party implements
// it), at most limit of them.
type Complaints interface {
	OverdueComplaints(ctx context.Context, limit int) ([]api.ComplaintInfo, error)
}

// Measures lists the active measures of the transferred cases this court
// holds that expire within days of asOf, soonest first. The assets room
// implements it (today a method of the node).
type Measures interface {
	MeasureAlerts(ctx context.Context, asOf court.Date, within int) (api.MeasureAlerts, error)
}

// Deps is what the health room is built from. Every field is required
// unless it says otherwise.
type Deps struct {
	Host    host.Host
	PubSub  *pubsub.PubSub
	Trust   TrustView
	Key     crypto.TransportSigner // signs heartbeats; its transport key signs the peer record in them
	Store   Store
	Measure Measures
	// Complaints, if set, raises complaint_overdue alerts.
	Complaints Complaints
	Metrics    *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives structured logs; nil discards them.
	Log *slog.Logger
	// Life bounds the work of a metrics scrape (the node's life); nil
	// means context.Background().
	Life context.Context
	// Version is the software version heartbeats report.
	Version string
	// RecordHead, if set, is this node's own record log head, which its
	// heartbeats carry for peers to witness (records.Service.Head).
	RecordHead func() (crypto.LogPosition, error)
	// Published, if set, is given every heartbeat this node published,
	// signed, once gossip took it (storage.DB.PutPublishedHead keeps the
	// newest for evidence exports). Its error is logged.
	Published func(raw []byte) error

	// HeartbeatEvery is the heartbeat interval (heartbeat_interval); it
	// must be positive.
	HeartbeatEvery time.Duration
	// SkewTolerance is clock_skew_tolerance: a node whose heartbeats are
	// dated further than this from this node's clock is flagged
	// clock_skew. Zero or less means DefaultSkewTolerance.
	SkewTolerance time.Duration
	// GuardDays is handover_guard_days: measures expiring within it raise
	// alerts, and the dashboard's lapse indicator assumes it.
	GuardDays int
	// WebhookURL receives new alerts (webhook_url); "" posts none.
	WebhookURL string
	// AlertEvery is how often alerts are evaluated for the webhook
	// (sync_interval); zero or less means 30 s.
	AlertEvery time.Duration
	// MoreAlerts, if set, adds the alerts of other rooms as of a day
	// (node/funds: money held at the origin, ledgers that do not balance,
	// sanctions pending, notices unacknowledged).
	MoreAlerts func(ctx context.Context, asOf court.Date) ([]api.Alert, error)
	// Jurisdiction, ComplaintCounts and CheckBacks, if set, give the
	// dashboard a superior court's view of the courts under it (node/
	// workflow), the complaints it supervises (node/party) and the
	// transfers flagged for a check back on the origin (node/workflow).
	Jurisdiction    func(ctx context.Context, q api.JurisdictionQuery) (api.Jurisdiction, error)
	ComplaintCounts func(ctx context.Context) ([]api.ComplaintIndicator, error)
	CheckBacks      func(ctx context.Context, scope court.CourtCode) (api.CheckBacks, error)
}

// Service is the health room: heartbeats, the mesh view, alerts, the
// state gauges and the dashboard model. Build it with New, run it with
// Serve. Its methods are safe for concurrent use.
//
// It publishes this node's signed heartbeat on its province's topic every
// interval, and keeps the newest heartbeat of every node it hears: its
// own province's, or every province's on an operator node. It witnesses
// their audit log heads: a log that goes backwards, or shows another hash
// at a position it showed before, is flagged. It compares their dates
// with its own clock: a node whose heartbeats are dated further than
// SkewTolerance ahead or behind is flagged clock_skew (and still heard:
// its heartbeat's date serves that comparison only, while silence and
// everything else are judged by this node's clock); and when most of its
// peers disagree with it the same way, this node's own clock is wrong
// (Clock).
//
// Memory: one peerHealth per node heard (3,500 nationally), each holding
// at most maxWitnessed (length, hash) pairs: about 7 KiB per node with
// full histories, some 25 MiB for the whole country on an operator node.
type Service struct {
	d        Deps
	log      *slog.Logger
	now      func() time.Time
	every    time.Duration
	province court.CourtCode // this node's
	operator bool

	mu      sync.Mutex // guards topics, peers, started
	topics  map[court.CourtCode]*hbTopic
	peers   map[peer.ID]*peerHealth
	started time.Time // when Serve started publishing (silence is judged from then)

	newSubs chan *pubsub.Subscription // subscriptions to drain, for Serve
	rescan  chan struct{}             // a new bundle may name new provinces
}

// DefaultSkewTolerance is the clock_skew_tolerance of a node that sets none.
const DefaultSkewTolerance = 2 * time.Minute

// New builds the health room: it joins the heartbeat topics of the
// provinces it follows (registering their validators) and registers the
// state gauges with d.Metrics. It starts no goroutine.
func New(d Deps) (*Service, error) {
	if d.HeartbeatEvery <= 0 {
		return nil, fmt.Errorf("heartbeat interval %s: %w: must be positive", d.HeartbeatEvery, config.ErrConfig)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Life == nil {
		d.Life = context.Background()
	}
	if d.SkewTolerance <= 0 {
		d.SkewTolerance = DefaultSkewTolerance
	}
	s := &Service{
		d: d, log: d.Log, now: d.Now, every: d.HeartbeatEvery,
		topics: map[court.CourtCode]*hbTopic{}, peers: make(map[peer.ID]*peerHealth, 64),
		newSubs: make(chan *pubsub.Subscription, 64), rescan: make(chan struct{}, 1),
	}
	self, err := s.self()
	if err != nil {
		return nil, fmt.Errorf("heartbeats: this node is not certified: %w", err)
	}
	s.province, s.operator = self.Code.Province(), self.HasRole(crypto.RoleOperator)
	if err := s.joinAll(d.Trust.Trust()); err != nil {
		return nil, err
	}
	d.Trust.OnInstall(func(*crypto.Trust) {
		select {
		case s.rescan <- struct{}{}:
		default:
		}
	})
	d.Metrics.Reg.MustRegister(&stateCollector{s: s})
	d.Metrics.Reg.MustRegister(&supervisionCollector{s: s})
	return s, nil
}

// self returns this node's certificate.
func (s *Service) self() (*crypto.Certificate, error) {
	return s.d.Trust.Trust().ByPeer(s.d.Host.ID(), s.now())
}

// Serve publishes heartbeats and posts alerts to the webhook until ctx
// ends. Both loops are owned here: Serve returns when both have stopped.
// An error of either (a bad webhook_url) stops the other and is returned.
func (s *Service) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil {
				once.Do(func() { first = fmt.Errorf("%s: %w", name, err) })
				cancel()
			}
		})
	}
	run("heartbeat", s.serveHeartbeats)
	run("alerts", s.serveAlerts)
	wg.Wait()
	return first
}

// DashboardPage is the handler of the dashboard page (GET /dashboard).
func (s *Service) DashboardPage() *dashboard.Handler {
	return dashboard.NewHandler(s.Dashboard, s.log)
}

var _ api.HealthService[dashboard.Dashboard] = (*Service)(nil)
