package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// Fetch tuning. A stream carries up to fetchPipeline+2 requests in
// flight (one being read, fetchPipeline queued for the reader, one written
// and waiting for room), each of up to fetchBatch chunks: 24 chunks, its
// yamux window (mesh.YamuxMaxWindow, 16 MiB) and a request more, which is
// all a stream can carry in a round trip. A peer gets one stream on a
// short link and more on a long one (streamsFor: from the
// bandwidth-delay product), and at most fetchWindow bytes in flight
// across them. With a deeper pipeline (8, before) the first stream took
// the whole window and the others waited while it carried 16 MiB a round
// trip: at 1 Gbit/s and 200 ms the line carried 96 MB/s of its 125 in
// the middle of a fetch (BenchmarkFetchWAN's 10/50/90% line).
const (
	fetchBatch    = 8
	fetchPipeline = 1
	// fetchLongLink is the round trip from which a source gets more than
	// one stream.
	fetchLongLink = 10 * time.Millisecond
	// fetchLinkRate (bytes per second) is the fastest link a source's
	// streams are sized for: 1 Gbit/s.
	fetchLinkRate = 125e6
	// fetchMaxStreams caps the streams to one source.
	fetchMaxStreams = 4
	fetchWindow     = 64 << 20
	// badSourceLimit drops a source after this many chunks that failed
	// verification.
	badSourceLimit = 3
	// fetchCopyBuf is the piece in which a serving node copies a chunk
	// from its file to the stream.
	fetchCopyBuf = 256 << 10
	// fetchStreamTries is how many times a stream to a source is opened
	// in one fetch; the pauses between grow by fetchRetryPause.
	fetchStreamTries = 4
	// fetchMaxPause caps the pause between two tries of a source.
	fetchMaxPause = 5 * time.Second
)

// dossierIndex is what a serving node knows about a dossier.
type dossierIndex struct {
	ids    map[crypto.ChunkID]bool
	origin *pb.FetchManifest // only on the origin: the manifest it serves
	root   []byte            // the handover's Merkle root it was built for (a supplement changes it)
}

// Service serves dossiers and fetches them.
type Service struct {
	audit       audit.Policy
	db          *storage.DB
	transfers   Transfers
	trust       TrustView
	h           *mesh.GuardedHost
	dec         crypto.Decrypter
	metrics     *metrics.Metrics
	log         *slog.Logger
	now         func() time.Time
	filed       func()
	retryPause  atomic.Int64 // time.Duration
	stall       atomic.Int64 // time.Duration
	afterFiling func() error
	addrs       func(peer.ID) bool

	// ctx bounds the fetch jobs; Close cancels it and waits for them.
	ctx  context.Context
	stop context.CancelFunc

	mu    sync.Mutex
	cache map[court.TransferID]*dossierIndex
	jobs  map[court.TransferID]*fetchJob
	// done keeps the final progress of recent fetches (their jobs are
	// gone), for Status; at most keepDone, the oldest dropped first.
	done      map[court.TransferID]api.FetchProgress
	doneOrder []court.TransferID
	// tamper, tests only (set under mu), sees every sealed chunk this
	// node serves and returns what is sent: a test counts, delays or
	// corrupts chunks with it.
	tamper func(remote peer.ID, id crypto.ChunkID, sealed []byte) []byte
}

// keepDone is how many finished fetches Status remembers.
const keepDone = 256

// Transfers is what the fetch needs of the transfer records (the records
// room implements it).
type Transfers interface {
	// Load returns a transfer's stored state, nil if unknown.
	Load(id court.TransferID) (*cmproto.Transfer, error)
	// Issue signs, applies and publishes a record of this court (the
	// receipt).
	Issue(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Transfer, error)
}

// TrustView is the trust bundle in force.
type TrustView interface{ Trust() *crypto.Trust }

// Deps is what the fetch service is built from.
type Deps struct {
	// Audit writes the audit log (node/audit).
	Audit     audit.Policy
	Store     *storage.DB
	Transfers Transfers
	Trust     TrustView
	// Host is the node's host: the service serves the fetch protocol on
	// it (its handlers check admission) and opens streams to sources.
	Host      *mesh.GuardedHost
	Decrypter crypto.Decrypter // opens the data keys wrapped for this court
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	Now       func() time.Time
	// Filed, if set, is called after a fetched case is filed (the asset
	// watch applies the updates that waited for it).
	Filed func()
	// RetryPause is the pause before a broken stream to a source is
	// opened again (twice that before the next time, and so on); zero
	// means one second.
	RetryPause time.Duration
	// Stall is how long a stream may go without a new frame while an
	// answer is due before it is given up (its chunks go to the other
	// streams and sources); zero means 20 seconds.
	Stall time.Duration
	// AfterFiling, tests only, runs between a fetch's filing and its
	// receipt; an error stops the fetch there, as a crash would.
	AfterFiling func() error
	// Addrs, if set, is called with each source before it is dialled: it
	// puts the source's last signed addresses back into the peerstore
	// when that holds none (node/health keeps them from heartbeats).
	Addrs func(peer.ID) bool
}

// New builds the service and serves the fetch protocol on d.Host.
func New(d Deps) *Service {
	f := &Service{audit: d.Audit, db: d.Store, transfers: d.Transfers, trust: d.Trust, h: d.Host, dec: d.Decrypter, metrics: d.Metrics,
		log: d.Log, now: d.Now, filed: d.Filed, afterFiling: d.AfterFiling, addrs: d.Addrs,
		cache: map[court.TransferID]*dossierIndex{}, jobs: map[court.TransferID]*fetchJob{},
		done: map[court.TransferID]api.FetchProgress{}}
	f.SetRetryPause(d.RetryPause)
	f.SetStall(d.Stall)
	if f.filed == nil {
		f.filed = func() {}
	}
	f.ctx, f.stop = context.WithCancel(context.Background())
	d.Host.SetStreamHandler(cmproto.ProtoFetch, f.serve)
	return f
}

// Close stops every fetch job and waits for them (what they verified is
// committed chunk by chunk, and a new fetch resumes from it). No fetch
// starts after it.
func (f *Service) Close() {
	f.mu.Lock()
	f.stop()
	f.mu.Unlock()
	f.wait()
}

// SetTamper sets a function that sees every sealed chunk this node serves,
// with the peer asking, and returns what is sent instead (tests count,
// hold back or corrupt chunks with it); nil removes it.
func (f *Service) SetTamper(t func(remote peer.ID, id crypto.ChunkID, sealed []byte) []byte) {
	f.mu.Lock()
	f.tamper = t
	f.mu.Unlock()
}

// SetRetryPause sets Deps.RetryPause for the fetches that start later
// (zero: one second).
func (f *Service) SetRetryPause(d time.Duration) {
	if d == 0 {
		d = time.Second
	}
	f.retryPause.Store(int64(d))
}

// SetStall sets Deps.Stall (zero: 20 seconds).
func (f *Service) SetStall(d time.Duration) {
	if d == 0 {
		d = 20 * time.Second
	}
	f.stall.Store(int64(d))
}

// SetAfterFiling sets the test hook Deps.AfterFiling (nil removes it).
// Call it while no fetch runs.
func (f *Service) SetAfterFiling(h func() error) {
	f.mu.Lock()
	f.afterFiling = h
	f.mu.Unlock()
}

// self is this node's certificate in the bundle in force.
func (f *Service) self() (*crypto.Certificate, error) {
	return f.trust.Trust().ByPeer(f.h.ID(), f.now())
}

// index returns the chunk set (and, on the origin, the manifest) of a
// transfer's dossier as this node holds it.
func (f *Service) index(t *cmproto.Transfer) (*dossierIndex, error) {
	f.mu.Lock()
	if ix, ok := f.cache[t.ID]; ok && bytes.Equal(ix.root, t.MerkleRoot) {
		f.mu.Unlock()
		return ix, nil
	}
	f.mu.Unlock()
	self, err := f.self()
	if err != nil {
		return nil, err
	}
	ix := &dossierIndex{ids: map[crypto.ChunkID]bool{}, root: t.MerkleRoot}
	switch {
	case self.Code == t.Origin:
		cn, err := court.ParseCaseNumber(t.CaseNumber)
		if err != nil {
			return nil, err
		}
		dos, err := f.db.Dossier(cn)
		if err != nil {
			return nil, err
		}
		if root := dos.Root(); !bytes.Equal(root[:], t.MerkleRoot) {
			return nil, court.Errorf(court.ErrConflict, "case %s changed since the handover of %s (Merkle root differs); hand over again", cn, t.ID)
		}
		var sealed []byte
		if len(t.SealedCaseHash) > 0 {
			// The record the handover names, as it was then.
			if sealed, err = f.db.HandoverCase(string(t.ID), t.SealedCaseHash); err != nil {
				return nil, err
			}
		} else {
			// A handover by an older build named no record: the
			// current one (asset updates included) is served.
			caseJSON, err := json.Marshal(dos.Version)
			if err != nil {
				return nil, err
			}
			if sealed, err = dos.Key.SealFieldIn(dos.Suite, cmproto.CaseLabel(t.ID), caseJSON); err != nil {
				return nil, err
			}
		}
		ix.origin = &pb.FetchManifest{Version: 1, TransferId: string(t.ID), SealedCase: sealed}
		for _, id := range dos.Chunks {
			ix.origin.ChunkIds = append(ix.origin.ChunkIds, append([]byte(nil), id[:]...))
			ix.ids[id] = true
		}
	default:
		m, err := f.savedManifest(t.ID)
		if errors.Is(err, court.ErrNotFound) {
			return nil, court.Errorf(court.ErrNotFound, "this node holds no dossier of transfer %s", t.ID)
		}
		if err != nil {
			f.log.Warn("the saved manifest does not load", "transfer", t.ID, "reason", err)
			return nil, court.Errorf(court.ErrUnavailable, "this node cannot read its copy of the dossier of transfer %s now; try later", t.ID)
		}
		for _, b := range m.GetChunkIds() {
			ix.ids[crypto.ChunkID(b)] = true
		}
		ix.origin = m // a complete copy may serve the manifest too
	}
	f.mu.Lock()
	f.cache[t.ID] = ix
	f.mu.Unlock()
	return ix, nil
}

func (f *Service) savedManifest(id court.TransferID) (*pb.FetchManifest, error) {
	b, err := f.db.FetchManifest(string(id))
	if err != nil {
		return nil, err
	}
	var m pb.FetchManifest
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// serve answers fetch requests on one stream until the asker closes it.

// fetchJob is a fetch in progress.
type fetchJob struct {
	mu     sync.Mutex
	p      api.FetchProgress
	ctx    context.Context // the job's: done once it stops
	cancel context.CancelFunc
	done   chan struct{}
}

func (j *fetchJob) snapshot() api.FetchProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := j.p
	p.Sources = map[string]int{}
	for k, v := range j.p.Sources {
		p.Sources[k] = v
	}
	end := p.Finished
	if end.IsZero() {
		end = time.Now()
	}
	if d := end.Sub(p.Started).Seconds(); d > 0 {
		p.BytesPerS = float64(p.Bytes) / d
	}
	return p
}

// Start starts (or joins) the fetch of a transfer's dossier in the
// background and returns its progress.
func (f *Service) Start(id court.TransferID) (api.FetchProgress, error) {
	f.mu.Lock()
	if j, ok := f.jobs[id]; ok {
		f.mu.Unlock()
		return j.snapshot(), nil
	}
	if f.ctx.Err() != nil {
		f.mu.Unlock()
		return api.FetchProgress{}, court.Errorf(court.ErrUnavailable, "fetch %s: the node is stopping; start it again after the restart (verified chunks are kept)", id)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	j := &fetchJob{ctx: ctx, cancel: cancel, done: make(chan struct{}), p: api.FetchProgress{Transfer: id, State: "running", Started: time.Now(), Sources: map[string]int{}}}
	f.jobs[id] = j
	f.mu.Unlock()
	go func() {
		defer close(j.done)
		defer cancel()
		err := f.run(ctx, id, j)
		if err != nil && !errors.Is(err, context.Canceled) {
			err = f.ended(id, j, err)
		}
		j.mu.Lock()
		j.p.Finished = time.Now()
		switch {
		case err == nil:
			j.p.State = "done"
		case errors.Is(err, context.Canceled):
			j.p.State, j.p.Error, j.p.Code, j.p.Resumable = "cancelled", "cancelled; verified chunks are kept and a new fetch resumes from them", api.CodeUnavailable, true
		default:
			j.p.State, j.p.Error, j.p.Code = "failed", err.Error(), api.FromError(err).Code
			j.p.Resumable = !errors.Is(err, court.ErrRevoked)
		}
		j.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) {
			f.log.Warn("dossier fetch failed", "transfer", id, "reason", err)
		}
		f.finish(id, j)
	}()
	return j.snapshot(), nil
}

// ended says why a fetch that failed with err stopped, once the fetch
// is over. A fetch whose grant was revoked (or ran out) while it ran, or
// that a source refused as revoked, cannot resume: its error says so,
// with kind court.ErrRevoked, instead of promising that the next fetch
// resumes.
func (f *Service) ended(id court.TransferID, j *fetchJob, err error) error {
	why := ""
	if t, lerr := f.transfers.Load(id); lerr == nil && t != nil {
		if self, serr := f.self(); serr == nil {
			if merr := t.MayFetch(self.Code, f.now()); merr != nil && self.Code != t.Origin &&
				(t.State == cmproto.StateHandedOver || t.State == cmproto.StateReceived) {
				why = merr.Error()
			}
		}
	}
	j.mu.Lock()
	verified := j.p.Verified
	if why == "" {
		for _, fl := range j.p.Failures {
			if fl.Reason == reasonRevoked {
				why = fmt.Sprintf("%s refused the fetch: %s", fl.Court, fl.Last)
			}
		}
	}
	j.mu.Unlock()
	if why == "" {
		return err
	}
	return court.Errorf(court.ErrRevoked, "fetch %s stopped: %s. This fetch cannot resume: fetching again is refused by every source. The %d chunks verified before stay on this node (a revocation cannot unsee); ask the origin court if the case is still to move here",
		id, why, verified)
}

// finish drops a finished job, keeping its final progress for Status.
func (f *Service) finish(id court.TransferID, j *fetchJob) {
	p := j.snapshot()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobs[id] == j {
		delete(f.jobs, id)
	}
	if _, seen := f.done[id]; !seen {
		f.doneOrder = append(f.doneOrder, id)
	}
	f.done[id] = p
	for len(f.doneOrder) > keepDone {
		delete(f.done, f.doneOrder[0])
		f.doneOrder = f.doneOrder[1:]
	}
}

// Running is the number of fetch jobs in progress.
func (f *Service) Running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}

// wait waits for every fetch job to stop (they stop when the service closes; what
// they verified is committed chunk by chunk).
func (f *Service) wait() {
	f.mu.Lock()
	var js []*fetchJob
	for _, j := range f.jobs {
		js = append(js, j)
	}
	f.mu.Unlock()
	for _, j := range js {
		<-j.done
	}
}

// Status returns the progress of the latest fetch of a transfer: the
// one running, or the last to finish.
func (f *Service) Status(id court.TransferID) (api.FetchProgress, bool) {
	f.mu.Lock()
	j, ok := f.jobs[id]
	p, done := f.done[id]
	f.mu.Unlock()
	switch {
	case ok:
		return j.snapshot(), true
	case done:
		return p, true
	}
	return api.FetchProgress{}, false
}

// Cancel stops a fetch; what was verified stays.
func (f *Service) Cancel(id court.TransferID) bool {
	f.mu.Lock()
	j, ok := f.jobs[id]
	f.mu.Unlock()
	if ok {
		j.cancel()
	}
	return ok
}

// Fetch runs a fetch to its end (tests and the demo).
func (f *Service) Fetch(ctx context.Context, id court.TransferID) (api.FetchProgress, error) {
	if _, err := f.Start(id); err != nil {
		return api.FetchProgress{}, err
	}
	f.mu.Lock()
	j, ok := f.jobs[id]
	f.mu.Unlock()
	var p api.FetchProgress
	if ok {
		select {
		case <-j.done:
		case <-ctx.Done():
			j.cancel()
			<-j.done
		}
		p = j.snapshot()
	} else if p, ok = f.Status(id); !ok { // finished already
		return p, court.Errorf(court.ErrNotFound, "fetch %s: no record of it", id)
	}
	if p.State != "done" {
		return p, fmt.Errorf("fetch %s %s: %s", id, p.State, p.Error)
	}
	return p, nil
}

// auditDone writes an entry about an event that already happened (a
// refusal, a bad chunk or manifest, a dossier filed): a failed write
// cannot undo it, so it is logged at error level and counted
// (courtmesh_audit_write_failures_total), which alerts. Serving a chunk
// is different: nothing is served unless its entry is written (serve.go).
func (f *Service) auditDone(e storage.AuditEntry) {
	// After counts and logs a failure itself; the event stands either way.
	_ = f.audit.After(e)
}
