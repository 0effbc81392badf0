package trust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// Service keeps the trust bundle in force: it loads it from disk,
// installs newer bundles (pushed by an operator, announced on the trust
// topic, pulled from a peer), persists them, closes the connections of
// peers that are no longer admitted, and serves the bundle to peers.
type Service struct {
	dir  datadir.Dir
	root *crypto.Certificate
	self peer.ID
	log  *slog.Logger
	now  func() time.Time

	cur atomic.Pointer[crypto.Trust]
	mu  sync.Mutex // serialises installs

	h       host.Host
	signer  crypto.Signer
	metrics *metrics.Metrics
	topic   *pubsub.Topic
	sub     *pubsub.Subscription // validated messages are acted on in validate; this only drains
	pulls   chan pullRequest
	behind  chan peer.ID // peers seen announcing an older bundle
	joined  chan peer.ID // peers that joined the trust topic
	// onInstall is called, without locks held, after a new bundle is in force.
	onInstall []func(*crypto.Trust)

	cache         *crypto.MemCertCache
	bytesIn       atomic.Int64
	opened        atomic.Int64
	certsVerified atomic.Int64
	deltasApplied atomic.Int64
	declined      atomic.Int64
	gossipIn      atomic.Int64
	lastSource    atomic.Value // string

	// Many sources (sources.go): who holds which sequence, the bounded
	// whole-bundle uploads of this node, a download to resume, and one
	// pending retry of a pull that found only busy sources.
	holders         holders
	uploads         uploads
	partials        partials
	lastResortAfter int
	retrying        atomic.Bool
	bytesServed     atomic.Int64
	bundlesServed   atomic.Int64
	uploadsBusy     atomic.Int64
	resumed         atomic.Int64

	// ctx bounds the service's own goroutines (pokes of new connections
	// and neighbours); stop cancels it and wg waits for them (Close).
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type pullRequest struct {
	seq   uint64
	peers []peer.ID
	delta []byte // a delta that came with the announcement, tried first
	round int    // retries so far of a pull that found every source busy
}

var _ mesh.Admission = (*Service)(nil)

// go runs f on a goroutine owned by the service: it gets the service's
// context and Close waits for it. After Close, f does not run.
func (s *Service) goOwned(f func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
}

// Close stops the service's own goroutines and waits for them. It is
// safe to call more than once, and on a service that never served.
func (s *Service) Close() {
	s.mu.Lock()
	s.stop()
	s.mu.Unlock()
	s.wg.Wait()
}

// SetLogger replaces the service's logger (the node adds its court once
// the bundle has named it). Call it before Join.
func (s *Service) SetLogger(l *slog.Logger) { s.log = l }

// OnInstall registers f, called without locks held after a newer bundle
// is in force. Register before Serve.
func (s *Service) OnInstall(f func(*crypto.Trust)) { s.onInstall = append(s.onInstall, f) }

// Join puts the service on the mesh: it serves bundle pulls on gh,
// validates and joins the trust topic on ps (validators counted on the
// service's metrics), signs announcements with signer, and exchanges
// bundle sequences with every peer it dials.
func (s *Service) Join(h host.Host, gh *mesh.GuardedHost, ps *pubsub.PubSub, signer crypto.Signer) error {
	s.h, s.signer = h, signer
	gh.SetStreamHandler(cmproto.ProtoBundle, s.serveBundle)
	gh.SetStreamHandler(cmproto.ProtoBundleV1, s.serveBundleV1)
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		// Exchange bundle sequences with every new peer: whoever is behind
		// pulls. Outbound side only, so one exchange per connection.
		if c.Stat().Direction == network.DirOutbound {
			p := c.RemotePeer()
			s.goOwned(func(ctx context.Context) { s.poke(ctx, p) })
		}
	}})
	v := s.validate
	if s.metrics != nil {
		v = s.metrics.Metered(cmproto.TopicTrust, s.validate)
	}
	if err := ps.RegisterTopicValidator(cmproto.TopicTrust, v, pubsub.WithValidatorInline(true)); err != nil {
		return err
	}
	t, err := ps.Join(cmproto.TopicTrust)
	if err != nil {
		return err
	}
	sub, err := t.Subscribe()
	if err != nil {
		return err
	}
	s.topic, s.sub = t, sub
	return nil
}

// Deps is what the trust service is built from.
type Deps struct {
	Dir  datadir.Dir // holds root.cert and bundle.pb
	Self peer.ID     // this node, always admitted
	Log  *slog.Logger
	Now  func() time.Time
	// Metrics counts installs and refusals (nil: not counted).
	Metrics *metrics.Metrics
}

// New loads the pinned root and the bundle in force from the data
// directory. The service admits peers at once; Join puts it on the mesh.
func New(d Deps) (*Service, error) {
	dir, self, log, now := d.Dir, d.Self, d.Log, d.Now
	rootRaw, err := readFile(dir.Path(datadir.RootFile), "the national root certificate; run `courtmesh trust install`")
	if err != nil {
		return nil, err
	}
	root, err := datadir.ParseRoot(rootRaw)
	if err != nil {
		return nil, err
	}
	cache := &crypto.MemCertCache{}
	if cr, err := os.ReadFile(dir.Path(CertCacheFile)); err == nil {
		if c, err := crypto.UnmarshalCertCache(cr); err == nil {
			cache = c
		}
	}
	b, deltaErr, err := load(dir, root, cache)
	if err != nil {
		return nil, err
	}
	s := &Service{dir: dir, root: root, self: self, log: log, now: now, metrics: d.Metrics, pulls: make(chan pullRequest, 16),
		joined: make(chan peer.ID, 64), cache: cache, lastResortAfter: lastResortAfter,
		uploads: uploads{concurrency: uploadConcurrency, fanout: uploadFanout}}
	if deltaErr != nil {
		log.Warn("trust bundle deltas on disk not applied; they will be fetched again", "sequence", b.Sequence, "reason", deltaErr)
	}
	s.opened.Add(1)
	s.certsVerified.Add(int64(b.CertsVerified()))
	if !cache.Holds(b) {
		s.keepCache(b)
	}
	s.lastSource.Store("")
	s.behind = s.joined
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.cur.Store(crypto.NewTrust(root, b))
	return s, nil
}

// Trust returns the view in force.
func (s *Service) Trust() *crypto.Trust { return s.cur.Load() }

// Admit implements admission: a peer is admitted if the bundle in force
// certifies it now. The node itself is always admitted.
func (s *Service) Admit(p peer.ID) error {
	if p == s.self {
		return nil
	}
	_, err := s.cur.Load().ByPeer(p, s.now())
	return err
}

// SelfCertified says whether the bundle in force certifies this node
// now (not revoked, not expired, present): nil if it does.
func (s *Service) SelfCertified() error {
	_, err := s.cur.Load().ByPeer(s.self, s.now())
	return err
}

// pokeNeighbours tells every connected peer which bundle we hold, over
// the bundle stream protocol: a peer that is behind pulls from us. Gossip
// spreads the announcement across the whole mesh; this makes sure that
// direct neighbours learn it even if a gossip message is lost.
func (s *Service) pokeNeighbours(ctx context.Context) {
	if s.h == nil {
		return
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, p := range s.h.Network().Peers() {
		if s.Admit(p) != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := s.pull(ctx, p); err != nil {
				s.log.Debug("bundle poke failed", "peer", p, "reason", err)
				s.pokeFailed()
			}
		}()
	}
	wg.Wait()
}

// Poke exchanges bundle sequences with one peer (on a new connection).
func (s *Service) poke(ctx context.Context, p peer.ID) {
	if _, err := s.pull(ctx, p); err != nil {
		s.log.Debug("bundle exchange failed", "peer", p, "reason", err)
		s.pokeFailed()
	}
}

// pokeFailed leaves to the pull worker, after a backoff, a newer bundle
// that an exchange outside it learnt of but did not bring (the peer was
// busy, or its stream stopped midway).
func (s *Service) pokeFailed() {
	if seq := s.holders.newest(); seq > s.cur.Load().Bundle().Sequence {
		s.retryLater(seq, 1)
	}
}

// enforce closes the connections of every peer no longer admitted.
func (s *Service) enforce() {
	if s.h == nil {
		return
	}
	for _, p := range s.h.Network().Peers() {
		if err := s.Admit(p); err != nil {
			s.log.Info("closing connections of peer no longer admitted", "peer", p, "reason", err)
			s.h.Network().ClosePeer(p)
		}
	}
}

// announce publishes the bundle in force on the trust topic.
func (s *Service) announce(ctx context.Context) error {
	if s.topic == nil {
		return nil
	}
	t := s.cur.Load()
	self, err := t.ByPeer(s.self, s.now())
	if err != nil {
		return fmt.Errorf("announce bundle: this node is not certified: %w", err)
	}
	b := t.Bundle()
	h := b.Hash()
	a := &pb.BundleAnnounce{
		Version: cmproto.BundleAnnounceVersion, Sequence: b.Sequence, Sha256: h[:], ExpiresAt: b.ExpiresAt.Unix(),
		AnnouncedAt: s.now().UnixMilli(), Head: b.Head,
	}
	if n := len(b.Deltas); n > 0 && len(b.Deltas[n-1]) <= maxGossipDelta {
		// The change itself rides in the gossip: a node one behind applies
		// it without a stream.
		a.Delta = b.Deltas[n-1]
		a.Head = nil // the delta is what a node one behind needs; the rest ask a stream
	}
	env, err := crypto.SealMessage(s.signer, self.Serial, cmproto.PayloadBundleAnnounce, a)
	if err != nil {
		return err
	}
	msg, err := env.Marshal()
	if err != nil {
		return err
	}
	s.log.Debug("announcing trust bundle", "sequence", b.Sequence, "topic_peers", len(s.topic.ListPeers()))
	return s.topic.Publish(ctx, msg)
}

// validate is the inline gossipsub validator of the trust topic.
func (s *Service) validate(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	s.gossipIn.Add(int64(len(msg.Data)))
	env, err := crypto.UnmarshalEnvelope(msg.Data, cmproto.MaxGossipMessage)
	if err != nil {
		s.rejected(from, err)
		return pubsub.ValidationReject
	}
	t := s.cur.Load()
	signer, err := t.Open(env, cmproto.PayloadBundleAnnounce, s.now())
	if err != nil {
		s.rejected(from, err)
		return pubsub.ValidationReject
	}
	a, err := cmproto.DecodeBundleAnnounce(env.Payload)
	if err != nil {
		s.rejected(from, err)
		return pubsub.ValidationReject
	}
	s.log.Debug("bundle announce received", "from", from, "sequence", a.GetSequence(), "have", t.Bundle().Sequence)
	if from == s.self {
		return pubsub.ValidationAccept // our own announcement of what we hold
	}
	if a.GetSequence() < t.Bundle().Sequence && s.behind != nil {
		// The announcer is behind: tell the topic what we hold, so that
		// a lost announcement cannot leave a peer on an old bundle.
		select {
		case s.behind <- from:
		default:
		}
	}
	if a.GetSequence() <= t.Bundle().Sequence {
		s.declined.Add(1)
		return pubsub.ValidationIgnore // stale or equal: no further work
	}
	// Newer. What it carries from the root is checked before anything is
	// fetched: a forged head or delta is rejected here.
	if len(a.GetHead()) > 0 {
		h, err := crypto.OpenBundleHead(s.root, a.GetHead())
		if err != nil || h.Sequence > a.GetSequence() {
			s.rejected(from, fmt.Errorf("bundle announcement %d with a bad head (%v): %w", a.GetSequence(), err, crypto.ErrMalformed))
			return pubsub.ValidationReject
		}
	}
	var delta []byte
	if len(a.GetDelta()) > 0 {
		d, err := crypto.PeekDelta(a.GetDelta())
		if err != nil || d.Sequence != a.GetSequence() {
			s.rejected(from, fmt.Errorf("bundle announcement %d with a bad delta (%v): %w", a.GetSequence(), err, crypto.ErrMalformed))
			return pubsub.ValidationReject
		}
		delta = a.GetDelta()
	}
	// Pull it from the peers that hold it (the announcer among them),
	// falling back to whoever relayed it and then to the other peers.
	s.holders.add(a.GetSequence(), signer.PeerID)
	s.queuePull(pullRequest{seq: a.GetSequence(), peers: []peer.ID{signer.PeerID, from}, delta: delta})
	return pubsub.ValidationAccept
}

// maxGossipDelta bounds a delta carried in a bundle announcement (the
// trust topic carries signalling, not bulk).
const maxGossipDelta = 12 << 10

func (s *Service) rejected(from peer.ID, err error) {
	s.log.Info("gossip rejected", "topic", cmproto.TopicTrust, "from", from, "reason", err)
	if s.metrics != nil {
		s.metrics.GossipRejected.WithLabelValues(cmproto.TopicTrust, metrics.RejectReason(err)).Inc()
	}
}

// Serve runs the pull worker and the periodic checks until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	if s.topic != nil {
		annErr := make(chan error, 1)
		ctx, cancel := context.WithCancel(ctx)
		defer func() { cancel(); <-annErr }()
		go func() { annErr <- s.serveAnnounce(ctx) }()
	}
	s.checkExpiry()
	if s.sub != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				if _, err := s.sub.Next(ctx); err != nil {
					return
				}
			}
		}()
		defer s.sub.Cancel()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.pulls:
			s.handlePull(ctx, r)
		case <-tick.C:
			// Certificates expire while connections stay up: re-check.
			s.enforce()
			s.checkExpiry()
		}
	}
}

// handlePull brings the bundle in force up to r.seq: the delta that came
// with the announcement if it applies, else pulls from the sources in
// order (see sources) until one gives it. If none did while some peer is
// known to hold it (busy, say) or a download stopped midway, it tries
// again later (see retryLater), asking as a last resort after
// lastResortAfter rounds.
func (s *Service) handlePull(ctx context.Context, r pullRequest) {
	have := func() bool { return s.cur.Load().Bundle().Sequence >= r.seq }
	if r.delta != nil {
		if _, err := s.InstallDelta(r.delta, "gossip"); err != nil && !errors.Is(err, crypto.ErrWrongBase) {
			s.log.Info("trust bundle delta from gossip refused", "reason", err)
		}
	}
	if have() || s.h == nil {
		return
	}
	lastResort := r.round >= s.lastResortAfter
	busy := false
	for _, p := range s.sources(r) {
		if have() || ctx.Err() != nil {
			break
		}
		_, err := s.pullFrom(ctx, p, lastResort)
		switch {
		case errors.Is(err, errBusy):
			busy = true
			s.log.Debug("trust bundle source busy", "peer", p, "sequence", r.seq)
		case err != nil:
			s.log.Info("trust bundle pull failed", "peer", p, "reason", err)
		}
	}
	// Again later if a source is known to hold it (it may have been busy,
	// or its stream refused by the resource manager) or a download stopped.
	retry := busy || s.partials.pending(s.cur.Load().Bundle().Sequence) || len(s.holders.of(r.seq)) > 0
	if !have() && ctx.Err() == nil && retry && r.round+1 < maxPullRounds {
		s.retryLater(r.seq, r.round+1)
	}
}

// sources orders the peers to pull r.seq from: the peers known to hold
// it or a newer bundle (announced, offered, or told us), in random order
// and the announcer last among them, so that a bundle pushed to one node
// is not pulled by every node from that node; then the peers named in r
// (the announcer, whoever relayed it) in random order; then up to eight
// other admitted connected peers, in random order (any may hold it).
func (s *Service) sources(r pullRequest) []peer.ID {
	tried := map[peer.ID]bool{"": true, s.self: true}
	var out []peer.ID
	add := func(p peer.ID) {
		if !tried[p] {
			tried[p] = true
			out = append(out, p)
		}
	}
	var announcer peer.ID
	if len(r.peers) > 0 {
		announcer = r.peers[0]
	}
	for _, p := range s.holders.of(r.seq) {
		if p != announcer {
			add(p)
		}
	}
	named := slices.Clone(r.peers)
	rand.Shuffle(len(named), func(i, j int) { named[i], named[j] = named[j], named[i] })
	for _, p := range named {
		add(p)
	}
	const othersAtMost = 8
	others := s.h.Network().Peers()
	rand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	n := 0
	for _, p := range others {
		if n >= othersAtMost {
			break
		}
		if !tried[p] && s.Admit(p) == nil {
			n++
			add(p)
		}
	}
	return out
}

// retryLater queues the pull of seq again after a backoff (250 ms,
// doubling, at most 8 s, with jitter), unless a retry is already pending
// or seq is in force by then. Meanwhile the nodes that took the bundle
// tell their neighbours (pokeNeighbours), who learn new sources.
func (s *Service) retryLater(seq uint64, round int) {
	if !s.retrying.CompareAndSwap(false, true) {
		return
	}
	d := min(250*time.Millisecond<<min(round-1, 5), 8*time.Second)
	d += rand.N(d / 4)
	s.goOwned(func(ctx context.Context) {
		defer s.retrying.Store(false)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.cur.Load().Bundle().Sequence >= seq {
			return
		}
		s.retrying.Store(false)
		select {
		case s.pulls <- pullRequest{seq: seq, round: round}:
		case <-ctx.Done():
		}
	})
}

func (s *Service) checkExpiry() {
	b := s.cur.Load().Bundle()
	switch st := b.Status(s.now()); st {
	case crypto.BundleExpiring:
		s.log.Warn("trust bundle expires soon; ask the national operator for a new one", "sequence", b.Sequence, "expires", b.ExpiresAt.UTC().Format(time.RFC3339))
	case crypto.BundleGraced:
		s.log.Error("trust bundle has expired; the node keeps working until the grace period ends", "sequence", b.Sequence, "grace_ends", b.ExpiresAt.Add(crypto.BundleGrace).UTC().Format(time.RFC3339))
	case crypto.BundleDead:
		s.log.Error("trust bundle expired and grace period over: admitting no peers until a newer bundle is installed", "sequence", b.Sequence)
	}
}

func readFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", path, what, err)
	}
	return b, nil
}

// Topic is the trust topic joined by Join (nil before): tests publish and
// subscribe on it directly.
func (s *Service) Topic() *pubsub.Topic { return s.topic }
