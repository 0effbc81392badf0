package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// The fetch protocol: the receiver (or the decider) asks any node holding
// a handed-over dossier for its manifest, then for its sealed chunks by
// ID. Every request on a stream is authorised against the transfer's
// state (the data key was wrapped for the asker at handover, the origin
// has not revoked the grant) and audited, served or refused.

// Fetch tuning. A stream carries up to fetchPipeline requests in flight,
// each of up to fetchBatch chunks; a peer gets one stream on a short link
// and fetchStreams on a long one, and at most fetchWindow bytes in flight
// (one stream's pipeline, 8 requests of 8 chunks, fills the window).
const (
	fetchBatch    = 8
	fetchPipeline = 8
	fetchStreams  = 2
	// fetchLongLink is the round trip from which a source gets
	// fetchStreams streams instead of one.
	fetchLongLink = 10 * time.Millisecond
	fetchWindow   = 64 << 20
	// badSourceLimit drops a source after this many chunks that failed
	// verification.
	badSourceLimit = 3
	// fetchCopyBuf is the piece in which a serving node copies a chunk
	// from its file to the stream.
	fetchCopyBuf = 256 << 10
	// fetchStreamTries is how many times a stream to a source is opened
	// in one fetch; the pauses between grow by fetchRetryPause.
	fetchStreamTries = 4
)

// fetchRetryPause is the pause before a broken stream is opened again
// (twice that before the next time, and so on). A variable for tests.
var fetchRetryPause = time.Second

// fetchStall is how long a stream may go without a new frame while an
// answer is due before it is given up (its chunks go to the other streams
// and sources). A variable for tests.
var fetchStall = 20 * time.Second

// dossierIndex is what a serving node knows about a dossier.
type dossierIndex struct {
	ids    map[crypto.ChunkID]bool
	origin *pb.FetchManifest // only on the origin: the manifest it serves
}

// fetchService serves dossiers and fetches them.
type fetchService struct {
	n     *Node
	mu    sync.Mutex
	cache map[cmproto.TransferID]*dossierIndex
	jobs  map[cmproto.TransferID]*fetchJob
	// tamper, tests only (set under mu), sees every sealed chunk this
	// node serves and returns what is sent: a test counts, delays or
	// corrupts chunks with it.
	tamper func(remote peer.ID, id crypto.ChunkID, sealed []byte) []byte
}

func newFetchService(n *Node) *fetchService {
	f := &fetchService{n: n, cache: map[cmproto.TransferID]*dossierIndex{}, jobs: map[cmproto.TransferID]*fetchJob{}}
	n.gh.SetStreamHandler(cmproto.ProtoFetch, f.serve)
	return f
}

// index returns the chunk set (and, on the origin, the manifest) of a
// transfer's dossier as this node holds it.
func (f *fetchService) index(t *cmproto.Transfer) (*dossierIndex, error) {
	f.mu.Lock()
	if ix, ok := f.cache[t.ID]; ok {
		f.mu.Unlock()
		return ix, nil
	}
	f.mu.Unlock()
	self, err := f.n.self()
	if err != nil {
		return nil, err
	}
	ix := &dossierIndex{ids: map[crypto.ChunkID]bool{}}
	switch {
	case self.Code == t.Origin:
		cn, err := court.ParseCaseNumber(t.CaseNumber)
		if err != nil {
			return nil, err
		}
		dos, err := f.n.db.Dossier(cn)
		if err != nil {
			return nil, err
		}
		if root := dos.Root(); !bytes.Equal(root[:], t.MerkleRoot) {
			return nil, fmt.Errorf("case %s changed since the handover of %s (Merkle root differs); hand over again", cn, t.ID)
		}
		var sealed []byte
		if len(t.SealedCaseHash) > 0 {
			// The record the handover names, as it was then.
			if sealed, err = f.n.db.HandoverCase(string(t.ID), t.SealedCaseHash); err != nil {
				return nil, err
			}
		} else {
			// A handover by an older build named no record: the
			// current one (asset updates included) is served.
			caseJSON, err := json.Marshal(dos.Version)
			if err != nil {
				return nil, err
			}
			if sealed, err = dos.Key.SealField(fetchCaseLabel(t.ID), caseJSON); err != nil {
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
		if err != nil {
			return nil, fmt.Errorf("this node holds no dossier of transfer %s", t.ID)
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

func fetchCaseLabel(id cmproto.TransferID) string { return "fetch/" + string(id) + "/case" }

func (f *fetchService) savedManifest(id cmproto.TransferID) (*pb.FetchManifest, error) {
	b, err := f.n.db.FetchManifest(string(id))
	if err != nil {
		return nil, err
	}
	var m pb.FetchManifest
	if err := unmarshalPB(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// serve answers fetch requests on one stream until the asker closes it.
func (f *fetchService) serve(st network.Stream) {
	defer st.Close()
	remote := st.Conn().RemotePeer()
	buf := make([]byte, fetchCopyBuf) // reused from request to request
	refused := 0
	for {
		st.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var req pb.FetchRequest
		b, err := cmproto.ReadFrame(st, 64<<10)
		if err == nil {
			if err = unmarshalPB(b, &req); err != nil {
				err = fmt.Errorf("%w: %v", crypto.ErrMalformed, err)
			}
		}
		if err != nil {
			if errors.Is(err, crypto.ErrMalformed) { // not a closed or cut stream: garbage
				f.n.db.Audit(storage.AuditEntry{Peer: remote.String(), Event: "dossier.request", Outcome: "refused", Detail: fmt.Sprintf("malformed request, stream closed: %v", err)})
			}
			st.Reset()
			return
		}
		st.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		err = f.answer(st, remote, &req, buf)
		if errors.Is(err, errRefused) {
			// A refusal is answered, and the stream stays for a retry;
			// a peer refused again and again is not given the stream to
			// fill the audit log with.
			if refused++; refused < maxRefusalsPerStream {
				continue
			}
			st.Close()
			return
		}
		if err != nil {
			st.Reset()
			return
		}
	}
}

// errRefused: answer refused the request (and told the asker why).
var errRefused = errors.New("fetch request refused")

// maxRefusalsPerStream is how many refused requests one stream may carry
// before the serving node closes it.
const maxRefusalsPerStream = 8

// answer authorises one request, audits it, and writes the response. buf
// is scratch space for copying chunks from their files to the stream.
func (f *fetchService) answer(st network.Stream, remote peer.ID, req *pb.FetchRequest, buf []byte) error {
	now := f.n.now()
	tid := req.GetTransferId()
	if len(tid) > 64 { // a transfer id is 32 hex digits: the audit keeps a bounded prefix of anything else
		tid = strings.ToValidUTF8(tid[:64], "") + "…"
	}
	audit := storage.AuditEntry{Peer: remote.String(), Transfer: tid, Event: "dossier.chunks"}
	if req.GetManifest() {
		audit.Event = "dossier.manifest"
	}
	refuse := func(msg string) error {
		audit.Outcome, audit.Detail = "refused", msg
		if _, err := f.n.db.Audit(audit); err != nil {
			f.n.log.Error("a refused fetch request could not be audited", "peer", remote, "reason", err)
		}
		f.n.metrics.ServedRequests.WithLabelValues("refused").Inc()
		f.n.log.Info("fetch refused", "peer", remote, "transfer", tid, "reason", msg)
		if err := cmproto.WriteDelimited(st, &pb.FetchResponse{Version: 1, Error: msg}); err != nil {
			return err
		}
		return errRefused
	}
	// Nothing is served that the audit log does not record.
	audited := func() error {
		if _, err := f.n.db.Audit(audit); err != nil {
			f.n.log.Error("fetch request not served: the audit log cannot be written", "peer", remote, "transfer", tid, "reason", err)
			return refuse("the serving court cannot record the access now; try later")
		}
		return nil
	}
	// Checked on every request: the peer's certificate is in force now.
	cert, err := f.n.trust.Trust().ByPeer(remote, now)
	if err != nil {
		return refuse(fmt.Sprintf("not admitted: %v", err))
	}
	audit.Court = string(cert.Code)
	id, err := cmproto.ParseTransferID(req.GetTransferId())
	if err != nil || req.GetVersion() != 1 {
		return refuse("malformed request")
	}
	t, err := f.n.xfer.Load(id)
	if err != nil || t == nil {
		return refuse(fmt.Sprintf("unknown transfer %s", id))
	}
	if err := t.MayFetch(cert.Code, now); err != nil {
		return refuse(err.Error())
	}
	ix, err := f.index(t)
	if err != nil {
		return refuse(err.Error())
	}
	if req.GetManifest() {
		if ix.origin == nil {
			return refuse("this node cannot serve the manifest")
		}
		audit.Outcome, audit.Detail = "ok", fmt.Sprintf("manifest of %d chunks", len(ix.origin.GetChunkIds()))
		if err := audited(); err != nil {
			return err
		}
		return cmproto.WriteDelimited(st, &pb.FetchResponse{Version: 1, Manifest: ix.origin})
	}
	ids := req.GetChunkIds()
	if len(ids) == 0 || len(ids) > 4*fetchBatch {
		return refuse(fmt.Sprintf("a request asks for 1 to %d chunks", 4*fetchBatch))
	}
	f.mu.Lock()
	tamper := f.tamper
	f.mu.Unlock()
	// Every chunk is checked and looked up before anything is sent, so
	// that the audit says what is served; a chunk this node lacks goes
	// out as an empty frame (the asker fetches it elsewhere). Each is
	// opened again only while it is sent: an asker that reads slowly
	// holds one open file here, not a request's worth.
	type chunkFile struct {
		id   crypto.ChunkID
		held bool
		size int64
	}
	files := make([]chunkFile, len(ids))
	var served int
	var bytes int64
	for i, b := range ids {
		if len(b) != 32 {
			return refuse("malformed chunk id")
		}
		cid := crypto.ChunkID(b)
		if !ix.ids[cid] {
			return refuse(fmt.Sprintf("chunk %s is not part of transfer %s", cid, id))
		}
		files[i].id = cid
		if r, size, err := f.n.db.OpenSealedChunk(cid); err == nil {
			r.Close()
			files[i].held, files[i].size = true, size
			served++
			bytes += size
		} else if !errors.Is(err, storage.ErrNotFound) {
			f.n.log.Warn("stored chunk does not open", "transfer", id, "chunk", cid, "reason", err)
		}
	}
	audit.Outcome, audit.Detail = "ok", fmt.Sprintf("%d of %d chunks, %d bytes", served, len(ids), bytes)
	if err := audited(); err != nil {
		return err
	}
	f.n.metrics.ServedRequests.WithLabelValues("served").Inc()
	f.n.metrics.ServedBytes.Add(float64(bytes))
	if err := cmproto.WriteDelimited(st, &pb.FetchResponse{Version: 1, ChunkCount: uint32(len(files))}); err != nil {
		return err
	}
	for _, c := range files {
		if err := f.sendChunk(st, remote, c.id, c.held, c.size, tamper, buf); err != nil {
			return err
		}
	}
	return nil
}

// sendChunk writes one chunk's frame: the chunk, opened for the time it
// is sent, or an empty frame if it is not held (or went meanwhile, as
// garbage collection may take it: the asker fetches it elsewhere).
func (f *fetchService) sendChunk(st network.Stream, remote peer.ID, cid crypto.ChunkID, held bool, size int64, tamper func(peer.ID, crypto.ChunkID, []byte) []byte, buf []byte) error {
	if !held {
		return cmproto.WriteFrame(st, nil)
	}
	r, got, err := f.n.db.OpenSealedChunk(cid)
	if err != nil || got != size {
		if r != nil {
			r.Close()
		}
		return cmproto.WriteFrame(st, nil)
	}
	defer r.Close()
	if tamper != nil {
		sealed, err := io.ReadAll(io.LimitReader(r, size))
		if err != nil {
			return err
		}
		return cmproto.WriteFrame(st, tamper(remote, cid, sealed))
	}
	return copyFrame(st, r, size, buf)
}

// copyFrame writes a frame of exactly size bytes read from r, through buf
// (the length prefix goes out with the first piece). A file that ends
// early is an error: the frame is then broken and the stream must be
// reset.
func copyFrame(w io.Writer, r io.Reader, size int64, buf []byte) error {
	k := binary.PutUvarint(buf, uint64(size))
	for left := size; left > 0 || k > 0; {
		n := min(int64(len(buf)-k), left)
		if _, err := io.ReadFull(r, buf[k:k+int(n)]); err != nil {
			return fmt.Errorf("chunk file: %w", err)
		}
		if _, err := w.Write(buf[:k+int(n)]); err != nil {
			return err
		}
		left -= n
		k = 0
	}
	return nil
}

// FetchProgress reports a fetch.
type FetchProgress struct {
	Transfer  cmproto.TransferID `json:"transfer"`
	State     string             `json:"state"` // running, verifying, done, failed, cancelled
	Chunks    int                `json:"chunks"`
	Verified  int                `json:"verified"`
	Resumed   int                `json:"resumed"` // verified before this run (not fetched again)
	Fetched   int                `json:"fetched"` // fetched in this run
	Bytes     int64              `json:"bytes"`   // fetched in this run
	Rejected  int                `json:"rejected_chunks"`
	Sources   map[string]int     `json:"sources"` // court -> chunks from it
	Started   time.Time          `json:"started"`
	Finished  time.Time          `json:"finished,omitzero"`
	Error     string             `json:"error,omitempty"`
	NewCase   string             `json:"new_case,omitempty"`
	BytesPerS float64            `json:"bytes_per_second"`
}

// fetchJob is a fetch in progress.
type fetchJob struct {
	mu     sync.Mutex
	p      FetchProgress
	cancel context.CancelFunc
	done   chan struct{}
}

func (j *fetchJob) snapshot() FetchProgress {
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

// StartFetch starts (or joins) the fetch of a transfer's dossier in the
// background and returns its progress.
func (n *Node) StartFetch(id cmproto.TransferID) (FetchProgress, error) {
	f := n.fetch
	f.mu.Lock()
	if j, ok := f.jobs[id]; ok {
		select {
		case <-j.done:
		default:
			f.mu.Unlock()
			return j.snapshot(), nil
		}
	}
	ctx, cancel := context.WithCancel(n.ctx)
	j := &fetchJob{cancel: cancel, done: make(chan struct{}), p: FetchProgress{Transfer: id, State: "running", Started: time.Now(), Sources: map[string]int{}}}
	f.jobs[id] = j
	f.mu.Unlock()
	go func() {
		defer close(j.done)
		defer cancel()
		err := f.run(ctx, id, j)
		j.mu.Lock()
		j.p.Finished = time.Now()
		switch {
		case err == nil:
			j.p.State = "done"
		case errors.Is(err, context.Canceled):
			j.p.State, j.p.Error = "cancelled", "cancelled; verified chunks are kept and a new fetch resumes from them"
		default:
			j.p.State, j.p.Error = "failed", err.Error()
		}
		j.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) {
			n.log.Warn("dossier fetch failed", "transfer", id, "reason", err)
		}
	}()
	return j.snapshot(), nil
}

// wait waits for every fetch job to stop (they stop when n.ctx ends; what
// they verified is committed chunk by chunk).
func (f *fetchService) wait() {
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

// FetchStatus returns the progress of the latest fetch of a transfer.
func (n *Node) FetchStatus(id cmproto.TransferID) (FetchProgress, bool) {
	n.fetch.mu.Lock()
	j, ok := n.fetch.jobs[id]
	n.fetch.mu.Unlock()
	if !ok {
		return FetchProgress{}, false
	}
	return j.snapshot(), true
}

// CancelFetch stops a fetch; what was verified stays.
func (n *Node) CancelFetch(id cmproto.TransferID) bool {
	n.fetch.mu.Lock()
	j, ok := n.fetch.jobs[id]
	n.fetch.mu.Unlock()
	if ok {
		j.cancel()
	}
	return ok
}

// Fetch runs a fetch to its end (tests and the demo).
func (n *Node) Fetch(ctx context.Context, id cmproto.TransferID) (FetchProgress, error) {
	if _, err := n.StartFetch(id); err != nil {
		return FetchProgress{}, err
	}
	n.fetch.mu.Lock()
	j := n.fetch.jobs[id]
	n.fetch.mu.Unlock()
	select {
	case <-j.done:
	case <-ctx.Done():
		j.cancel()
		<-j.done
	}
	p := j.snapshot()
	if p.State != "done" {
		return p, fmt.Errorf("fetch %s %s: %s", id, p.State, p.Error)
	}
	return p, nil
}

// sources returns the peers that may hold the dossier: the origin first,
// then the other readers still holding their grant (a court whose grant
// was revoked is not asked: its copy is no longer part of the transfer).
func (f *fetchService) sources(t *cmproto.Transfer, self court.CourtCode) []*source {
	var out []*source
	add := func(c court.CourtCode) {
		if c == self {
			return
		}
		cert, err := f.n.trust.Trust().Court(c, f.n.now())
		if err != nil || cert.PeerID == "" {
			return
		}
		for _, s := range out {
			if s.peer == cert.PeerID {
				return
			}
		}
		out = append(out, &source{court: c, peer: cert.PeerID})
	}
	add(t.Origin)
	for _, r := range t.Readers {
		if !slices.Contains(t.RevokedGrants, r) {
			add(r)
		}
	}
	return out
}

type source struct {
	court court.CourtCode
	peer  peer.ID
	bad   atomic.Int32
}

// run fetches, verifies and files a dossier.
func (f *fetchService) run(ctx context.Context, id cmproto.TransferID, j *fetchJob) error {
	n := f.n
	t, err := n.xfer.Load(id)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("transfer %s: %w", id, storage.ErrNotFound)
	}
	self, err := n.self()
	if err != nil {
		return err
	}
	if err := t.MayFetch(self.Code, n.now()); err != nil {
		return err
	}
	if self.Code == t.Origin {
		return fmt.Errorf("transfer %s: this court is the origin and holds the dossier", id)
	}
	if self.Code == t.Receiver {
		if newNo, err := court.ParseCaseNumber(t.NewCaseNumber); err == nil {
			if dos, err := n.db.Dossier(newNo); err == nil {
				// Filed by an earlier run, which stopped (a crash, a
				// restart) before its receipt: nothing to fetch again.
				if root := dos.Root(); !bytes.Equal(root[:], t.MerkleRoot) {
					return fmt.Errorf("transfer %s: case %s is already filed here with other contents (Merkle root differs)", id, newNo)
				}
				return f.confirm(ctx, t, newNo, dos.Chunks, j)
			}
		}
	}
	var wrapped []byte
	for _, k := range t.WrappedKeys {
		if k.Court == self.Code {
			wrapped = k.Wrapped
		}
	}
	key, err := crypto.UnwrapDataKey(n.enc, "handover", string(id), wrapped)
	if err != nil {
		return fmt.Errorf("transfer %s: the data key wrapped for %s does not open with this node's key: %w", id, self.Code, err)
	}
	srcs := f.sources(t, self.Code)
	if len(srcs) == 0 {
		return fmt.Errorf("transfer %s: no node to fetch from", id)
	}
	// 1. The manifest: saved from an earlier run, or asked for. Each is
	// checked against the signed handover before anything is fetched; a
	// source whose manifest fails is passed over for the next.
	var ids []crypto.ChunkID
	var v storage.CaseVersion
	m, err := f.savedManifest(id)
	if err == nil {
		if ids, v, err = checkManifest(t, key, m); err != nil {
			n.log.Warn("the saved fetch manifest fails its check; asking the sources again", "transfer", id, "reason", err)
			m = nil
		}
	}
	if m == nil {
		for _, s := range srcs {
			got, aerr := f.askManifest(ctx, s.peer, id)
			if aerr == nil {
				if ids, v, aerr = checkManifest(t, key, got); aerr != nil {
					n.db.Audit(storage.AuditEntry{Event: "dossier.bad_manifest", Outcome: "rejected", Peer: s.peer.String(), Court: string(s.court), Transfer: string(id), Detail: aerr.Error()})
				}
			}
			if aerr == nil {
				m = got
				break
			}
			err = aerr
			n.log.Info("manifest not available from source", "court", s.court, "reason", aerr)
		}
		if m == nil {
			return fmt.Errorf("transfer %s: no source served the manifest: %w", id, err)
		}
	}
	mb, err := marshalPB(m)
	if err != nil {
		return err
	}
	if err := n.db.SaveFetchManifest(string(id), mb, ids); err != nil {
		return err
	}
	// 2. What is already verified (an earlier run, or chunks this store
	// holds anyway) is not fetched again.
	done, err := n.db.FetchedChunks(string(id))
	if err != nil {
		return err
	}
	var todo []uint32
	resumed := 0
	lost := 0
	for i, cid := range ids {
		ok, _ := n.db.HasChunk(cid)
		if done[uint32(i)] && ok {
			resumed++
			continue
		}
		if done[uint32(i)] {
			lost++ // its bit outlived it (a store that failed under it): fetched again
		} else if ok {
			if err := n.db.PutFetchedChunk(string(id), uint32(i), cid, nil); err != nil {
				return err
			}
			resumed++
			continue
		}
		todo = append(todo, uint32(i))
	}
	if lost > 0 {
		n.log.Warn("chunks marked verified are missing from the store; fetching them again", "transfer", id, "chunks", lost)
	}
	j.mu.Lock()
	j.p.Chunks, j.p.Verified, j.p.Resumed = len(ids), resumed, resumed
	j.mu.Unlock()
	n.log.Info("dossier fetch", "transfer", id, "chunks", len(ids), "already_verified", resumed, "to_fetch", len(todo), "sources", len(srcs))
	// 3. Fetch the rest from every source at once.
	if len(todo) > 0 {
		if err := f.fetchChunks(ctx, id, ids, todo, srcs, j); err != nil {
			return err
		}
	}
	// 4. File the case (the receiver) or keep the copy (the decider).
	j.mu.Lock()
	j.p.State = "verifying"
	j.mu.Unlock()
	f.mu.Lock()
	delete(f.cache, id)
	f.mu.Unlock()
	if self.Code != t.Receiver {
		n.log.Info("dossier copy complete", "transfer", id, "chunks", len(ids))
		return nil
	}
	newNo, err := court.ParseCaseNumber(t.NewCaseNumber)
	if err != nil {
		return err
	}
	if _, err := n.db.FileReceived(string(id), newNo, self.Code, v, key); err != nil {
		return err
	}
	n.assets.Poke() // asset updates that waited for the filing
	if testAfterFiling != nil {
		if err := testAfterFiling(); err != nil {
			return err
		}
	}
	return f.confirm(ctx, t, newNo, ids, j)
}

// checkManifest checks a fetch manifest against the signed handover of
// t: its chunk list has the handover's Merkle root and count, its sealed
// case record is the one the handover names (when it names one) and
// opens with the data key, and that record's documents are exactly the
// chunk list. It returns the chunk IDs and the case record.
func checkManifest(t *cmproto.Transfer, key crypto.DataKey, m *pb.FetchManifest) ([]crypto.ChunkID, storage.CaseVersion, error) {
	var v storage.CaseVersion
	ids := make([]crypto.ChunkID, len(m.GetChunkIds()))
	for i, b := range m.GetChunkIds() {
		if len(b) != 32 {
			return nil, v, fmt.Errorf("transfer %s: manifest has a malformed chunk id", t.ID)
		}
		ids[i] = crypto.ChunkID(b)
	}
	if root := crypto.MerkleRoot(ids); !bytes.Equal(root[:], t.MerkleRoot) || uint32(len(ids)) != t.ChunkCount {
		return nil, v, fmt.Errorf("transfer %s: the manifest does not match the handover's Merkle root; refusing it", t.ID)
	}
	if len(t.SealedCaseHash) > 0 {
		if h := sha256.Sum256(m.GetSealedCase()); !bytes.Equal(h[:], t.SealedCaseHash) {
			return nil, v, fmt.Errorf("transfer %s: the manifest's case record is not the one the handover names; refusing it", t.ID)
		}
	}
	caseJSON, err := key.OpenField(fetchCaseLabel(t.ID), m.GetSealedCase())
	if err != nil {
		return nil, v, fmt.Errorf("transfer %s: the sealed case does not open: %w", t.ID, err)
	}
	if err := json.Unmarshal(caseJSON, &v); err != nil {
		return nil, v, fmt.Errorf("transfer %s: sealed case: %w", t.ID, err)
	}
	var docChunks []crypto.ChunkID
	for _, d := range append(append([]storage.Document(nil), v.Documents...), v.Source) {
		docChunks = append(docChunks, d.Chunks...)
	}
	if len(docChunks) != len(ids) {
		return nil, v, fmt.Errorf("transfer %s: the case's documents do not cover the manifest", t.ID)
	}
	for i := range ids {
		if docChunks[i] != ids[i] {
			return nil, v, fmt.Errorf("transfer %s: document chunk %d differs from the manifest", t.ID, i)
		}
	}
	return ids, v, nil
}

// testAfterFiling, when set by a test, runs between the filing and the
// receipt; an error stops the fetch there, as a crash would.
var testAfterFiling func() error

// confirm verifies the filed case and publishes the receipt (once: a
// receipt already applied is not issued again).
func (f *fetchService) confirm(ctx context.Context, t *cmproto.Transfer, newNo court.CaseNumber, ids []crypto.ChunkID, j *fetchJob) error {
	n, id := f.n, t.ID
	j.mu.Lock()
	j.p.State, j.p.Chunks, j.p.NewCase = "verifying", len(ids), newNo.String()
	j.mu.Unlock()
	rep, err := n.db.VerifyCase(ctx, newNo)
	if err != nil {
		return fmt.Errorf("transfer %s: the filed case %s does not verify: %w", id, newNo, err)
	}
	j.mu.Lock()
	j.p.Verified = len(ids)
	j.mu.Unlock()
	if t.State != cmproto.StateHandedOver {
		return nil // received before: the receipt is out
	}
	root := crypto.MerkleRoot(ids)
	if _, err := n.xfer.Issue(ctx, id, &pb.Record{Body: &pb.Record_Receipt{Receipt: &pb.Receipt{MerkleRoot: root[:], ChunksVerified: uint32(len(ids))}}}); err != nil {
		return fmt.Errorf("transfer %s: publish the receipt: %w", id, err)
	}
	n.db.Audit(storage.AuditEntry{Event: "dossier.received", Outcome: "ok", Transfer: string(id), Case: newNo.String(),
		Detail: fmt.Sprintf("%d documents, %d chunks, %d bytes verified; filed as %s", rep.Documents, rep.Chunks, rep.Bytes, newNo)})
	return nil
}

func (f *fetchService) askManifest(ctx context.Context, p peer.ID, id cmproto.TransferID) (*pb.FetchManifest, error) {
	st, err := f.n.h.NewStream(ctx, p, cmproto.ProtoFetch)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(time.Minute))
	if err := cmproto.WriteDelimited(st, &pb.FetchRequest{Version: 1, TransferId: string(id), Manifest: true}); err != nil {
		st.Reset()
		return nil, err
	}
	var resp pb.FetchResponse
	if err := cmproto.ReadDelimited(st, &resp, 64<<20); err != nil {
		st.Reset()
		return nil, err
	}
	if resp.GetError() != "" {
		return nil, errors.New(resp.GetError())
	}
	if resp.GetManifest() == nil {
		return nil, fmt.Errorf("%w: empty manifest", crypto.ErrMalformed)
	}
	return resp.GetManifest(), nil
}

// work is the shared queue of chunk indexes still to fetch.
type work struct {
	mu      sync.Mutex
	queue   []uint32
	left    int                         // chunks not yet verified
	taken   int                         // chunks taken by a stream and not yet verified or given back
	avoid   map[uint32]map[peer.ID]bool // sources that failed a chunk
	changed chan struct{}
}

func (w *work) take(p peer.ID, max int) []uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out, keep []uint32
	for _, i := range w.queue {
		if len(out) < max && !w.avoid[i][p] {
			out = append(out, i)
		} else {
			keep = append(keep, i)
		}
	}
	w.queue = keep
	w.taken += len(out)
	return out
}

func (w *work) retry(i uint32, bad peer.ID) {
	w.mu.Lock()
	if w.avoid[i] == nil {
		w.avoid[i] = map[peer.ID]bool{}
	}
	w.avoid[i][bad] = true
	w.queue = append(w.queue, i)
	w.taken--
	w.mu.Unlock()
	w.signal()
}

func (w *work) finish() {
	w.mu.Lock()
	w.left--
	w.taken--
	w.mu.Unlock()
	w.signal()
}

func (w *work) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// state returns the chunks not yet verified and, of those, the ones a
// stream holds (asked for, or verified and waiting for their commit).
func (w *work) state() (left, taken int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.left, w.taken
}

// fetchChunks fetches the todo chunks from all sources, several streams
// each, verifying every chunk against the manifest before storing it.
func (f *fetchService) fetchChunks(ctx context.Context, id cmproto.TransferID, ids []crypto.ChunkID, todo []uint32, srcs []*source, j *fetchJob) error {
	w := &work{queue: todo, left: len(todo), avoid: map[uint32]map[peer.ID]bool{}, changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &committer{f: f, id: id, w: w, j: j, in: make(chan verifiedChunk, fetchQueue), done: make(chan struct{}), failed: make(chan struct{}),
		check: make(chan checkJob, fetchCheckers), free: make(chan []byte, fetchBuffers)}
	for range fetchBuffers {
		c.free <- make([]byte, cmproto.MaxChunkFrame)
	}
	go c.run()
	var checkers sync.WaitGroup
	for range fetchCheckers {
		checkers.Go(c.checkLoop)
	}
	var wg sync.WaitGroup
	for _, s := range srcs {
		// Each source starts on its own: choosing its stream count may
		// take a ping, which a silent source answers only by timing out.
		wg.Go(func() {
			window := make(chan struct{}, fetchWindow/crypto.MaxChunkSize) // one token per chunk in flight
			var streams sync.WaitGroup
			for range f.streamsFor(ctx, s.peer) {
				streams.Go(func() {
					// A stream that broke (a stall, a reset) is opened
					// again, a few times, after a pause: on a short link
					// a source has one stream, and one bad moment must
					// not end the fetch when it is the only source.
					for attempt := 1; ; attempt++ {
						f.streamWorker(ctx, id, ids, s, w, window, j, c)
						if left, _ := w.state(); left == 0 || ctx.Err() != nil || s.bad.Load() >= badSourceLimit || attempt >= fetchStreamTries {
							return
						}
						select {
						case <-ctx.Done():
							return
						case <-time.After(time.Duration(attempt) * fetchRetryPause):
						}
					}
				})
			}
			streams.Wait()
		})
	}
	workersDone := make(chan struct{})
	// The committer stops once every reader has stopped handing it chunks.
	go func() {
		wg.Wait()
		close(c.check)
		checkers.Wait()
		close(c.in)
		<-c.done
		close(workersDone)
	}()
	for {
		if left, _ := w.state(); left == 0 {
			cancel()
			<-workersDone
			return nil
		}
		select {
		case <-ctx.Done():
			<-workersDone
			return ctx.Err()
		case <-c.failed:
			cancel()
			<-workersDone
			return c.err
		case <-w.changed:
		case <-workersDone:
			select {
			case <-c.failed:
				return c.err
			default:
			}
			if left, _ := w.state(); left > 0 {
				return fmt.Errorf("transfer %s: %d chunks could not be fetched from any source; verified chunks are kept and the next fetch resumes", id, left)
			}
			return nil
		}
	}
}

// streamsFor returns how many streams to open to a source: one on a short
// link (a LAN, loopback), where a yamux stream's window never limits its
// rate and a second stream only adds contention, fetchStreams on a long
// one, where one stream's window (at most 16 MiB) over the round trip
// would.
func (f *fetchService) streamsFor(ctx context.Context, p peer.ID) int {
	rtt := f.n.h.Peerstore().LatencyEWMA(p)
	if rtt == 0 {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		select {
		case r := <-ping.Ping(pctx, f.n.h, p):
			if r.Error == nil {
				rtt = r.RTT
			}
		case <-pctx.Done():
		}
	}
	if rtt > 0 && rtt < fetchLongLink {
		return 1
	}
	return fetchStreams
}

// streamWorker runs one stream to a source: it keeps up to fetchPipeline
// requests in flight and verifies what comes back. When the stream breaks
// (an error, a source silent for fetchStall) the reader resets it at once
// and the requests still in flight go back to the queue for the other
// streams and sources.
func (f *fetchService) streamWorker(ctx context.Context, id cmproto.TransferID, ids []crypto.ChunkID, s *source, w *work, window chan struct{}, j *fetchJob, c *committer) {
	n := f.n
	var st network.Stream
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	inflight := make(chan []uint32, fetchPipeline)
	dead := make(chan struct{}) // closed by the reader when the stream broke
	readerDone := make(chan struct{})
	var readErr error // set by the reader before it closes dead
	reader := func() {
		defer close(readerDone)
		for batch := range inflight {
			if readErr == nil {
				if err := f.readBatch(st, id, ids, s, w, batch, j, c); err != nil {
					readErr = err
					st.Reset()
					close(dead)
				}
			} else {
				for _, i := range batch {
					w.retry(i, "")
				}
			}
			for range batch {
				<-window
			}
		}
	}
	giveBack := func(batch []uint32, tokens bool) {
		for _, i := range batch {
			w.retry(i, "")
			if tokens {
				<-window
			}
		}
	}
loop:
	for ctx.Err() == nil && s.bad.Load() < badSourceLimit {
		select {
		case <-dead:
			break loop
		default:
		}
		batch := w.take(s.peer, fetchBatch)
		if len(batch) == 0 {
			// Nothing this source may serve now. While other streams
			// hold chunks they may still give back (a source that
			// refuses, sends a bad chunk or goes silent), wait for them;
			// stop once nothing is left or nothing can come back.
			if left, taken := w.state(); left == 0 || taken == 0 {
				break
			}
			select {
			case <-ctx.Done():
			case <-dead:
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if st == nil {
			var err error
			if st, err = n.h.NewStream(ctx, s.peer, cmproto.ProtoFetch); err != nil {
				for _, i := range batch {
					w.retry(i, s.peer)
				}
				s.bad.Add(1)
				return
			}
			go reader()
		}
		// One window token per chunk; the reader gives them back as the
		// chunks arrive. Stopped while waiting for room: return the
		// tokens taken and the batch, and send nothing (a batch sent
		// without its tokens would block the reader forever).
		if !acquire(ctx, dead, window, len(batch)) {
			giveBack(batch, false)
			break
		}
		req := &pb.FetchRequest{Version: 1, TransferId: string(id)}
		for _, i := range batch {
			req.ChunkIds = append(req.ChunkIds, ids[i][:])
		}
		st.SetWriteDeadline(time.Now().Add(fetchStall))
		if err := cmproto.WriteDelimited(st, req); err != nil {
			giveBack(batch, true)
			break
		}
		select {
		case inflight <- batch:
		case <-dead:
			giveBack(batch, true)
			break loop
		}
	}
	if st != nil {
		close(inflight)
		<-readerDone
		if readErr != nil && ctx.Err() == nil {
			n.log.Info("fetch stream ended; its chunks go to the other streams", "court", s.court, "reason", readErr)
		}
	}
}

// acquire takes n tokens of window, or none if ctx ends or stop closes
// first.
func acquire(ctx context.Context, stop <-chan struct{}, window chan struct{}, n int) bool {
	for k := range n {
		select {
		case window <- struct{}{}:
			continue
		case <-ctx.Done():
		case <-stop:
		}
		for range k {
			<-window
		}
		return false
	}
	return true
}

// readBatch reads the answer to one request and stores what verifies.
// buf is the reader's scratch space.
func (f *fetchService) readBatch(st network.Stream, id cmproto.TransferID, ids []crypto.ChunkID, s *source, w *work, batch []uint32, j *fetchJob, c *committer) error {
	// A source that stops sending (and does not close the stream) is given
	// up after fetchStall without a new frame.
	st.SetReadDeadline(time.Now().Add(fetchStall))
	var resp pb.FetchResponse
	if err := cmproto.ReadDelimited(st, &resp, 64<<10); err != nil {
		for _, i := range batch {
			w.retry(i, "")
		}
		return err
	}
	if resp.GetError() != "" {
		for _, i := range batch {
			w.retry(i, s.peer)
		}
		s.bad.Store(badSourceLimit) // refused: do not ask this source again
		return fmt.Errorf("%s refused: %s", s.court, resp.GetError())
	}
	if int(resp.GetChunkCount()) != len(batch) {
		for _, i := range batch {
			w.retry(i, s.peer)
		}
		s.bad.Add(1)
		return fmt.Errorf("%s answered %d chunks for %d asked", s.court, resp.GetChunkCount(), len(batch))
	}
	for k, i := range batch {
		st.SetReadDeadline(time.Now().Add(fetchStall))
		if err := f.readChunk(st, id, ids[i], i, s, w, j, c); err != nil {
			for _, r := range batch[k:] {
				w.retry(r, "")
			}
			return err
		}
	}
	return nil
}

// readChunk reads one chunk frame into a buffer of the checker pool and
// hands it to the checkers (see checkLoop), so that the stream is read again
// while earlier chunks are hashed and written. An error means the stream
// is broken.
func (f *fetchService) readChunk(st network.Stream, id cmproto.TransferID, want crypto.ChunkID, i uint32, s *source, w *work, j *fetchJob, c *committer) error {
	size, err := cmproto.ReadFrameSize(st, cmproto.MaxChunkFrame)
	if err != nil {
		return fmt.Errorf("%s: %w", s.court, err)
	}
	if size == 0 {
		w.retry(i, s.peer) // this source does not hold it
		return nil
	}
	buf := <-c.free
	if _, err := io.ReadFull(st, buf[:size]); err != nil {
		c.free <- buf
		return err
	}
	c.check <- checkJob{sealed: buf[:size], want: want, index: i, src: s}
	return nil
}

// checkJob is a chunk read whole from a source, to be checked.
type checkJob struct {
	sealed []byte // a buffer of the pool: back to c.free when done
	want   crypto.ChunkID
	index  uint32
	src    *source
}

// checkLoop runs on fetchCheckers goroutines. Each chunk is checked against
// the manifest before anything else happens: one that matches is written
// to the store (staged) and goes on to the committer; one that does not is
// dropped, audited and asked of another source, and never touches the
// disk.
func (c *committer) checkLoop() {
	f, id, w, j := c.f, c.id, c.w, c.j
	for job := range c.check {
		s, i := job.src, job.index
		switch {
		case crypto.ChunkIDOf(job.sealed) != job.want:
			s.bad.Add(1)
			f.n.log.Warn("chunk failed verification; fetching it from another source", "transfer", id, "court", s.court, "chunk", i)
			f.n.db.Audit(storage.AuditEntry{Event: "dossier.bad_chunk", Outcome: "rejected", Peer: s.peer.String(), Court: string(s.court), Transfer: string(id),
				Detail: fmt.Sprintf("chunk %d does not match the manifest", i)})
			j.mu.Lock()
			j.p.Rejected++
			j.mu.Unlock()
			f.n.metrics.FetchRejected.Inc()
			w.retry(i, s.peer)
		default:
			staged, err := f.n.db.StageChunk(job.sealed)
			if err != nil {
				c.fail(fmt.Errorf("transfer %s: write a chunk: %w", id, err))
				w.retry(i, "")
				break
			}
			// Stored by the committer, which marks it done once committed.
			c.in <- verifiedChunk{FetchedChunk: storage.FetchedChunk{Index: i, ID: job.want, Staged: staged}, src: s, size: int64(len(job.sealed))}
		}
		c.free <- job.sealed[:cap(job.sealed)]
	}
}

// verifiedChunk is a chunk that matched the manifest, staged in the chunk
// store, on its way to its commit.
type verifiedChunk struct {
	storage.FetchedChunk
	src  *source
	size int64
}

// committer stores verified chunks in group commits: it takes whatever the
// stream readers verified since its last commit and commits it at once
// (the fsyncs of a group run together), while the readers go on reading
// the network into new staged chunks. A chunk counts as verified (bitmap,
// progress, work.finish) only once its commit returned, so a bit never
// stands for a chunk that is not durable.
type committer struct {
	f    *fetchService
	id   cmproto.TransferID
	w    *work
	j    *fetchJob
	in   chan verifiedChunk
	done chan struct{}
	// check carries chunks read from the streams to the checkers; free
	// holds the buffers they are read into.
	check chan checkJob
	free  chan []byte
	// failed is closed when storing failed; err (set before) says why.
	failOnce sync.Once
	failed   chan struct{}
	err      error
}

// fetchCommitMax bounds a group commit (chunks); a commit fsyncs its chunk
// files together, so larger groups amortise the fsyncs and the journal
// commits behind them. Up to fetchCommits groups commit at once, so that
// the disk has the next group to write while a group waits for its
// journal commit. fetchQueue more verified chunks may wait for a group:
// at most fetchCommits*fetchCommitMax+fetchQueue staged chunks (open
// files) at a time.
const (
	fetchCommitMax = 32
	fetchCommits   = 2
	fetchQueue     = 64
	// fetchCheckers goroutines hash and write the chunks the streams read,
	// from fetchBuffers buffers of cmproto.MaxChunkFrame bytes.
	fetchCheckers = 2
	fetchBuffers  = 2*fetchCheckers + 2
)

// fail records that the local store failed (the fetch stops) and returns
// err.
func (c *committer) fail(err error) error {
	c.failOnce.Do(func() {
		c.err = err
		close(c.failed)
	})
	return err
}

func (c *committer) run() {
	defer close(c.done)
	var group []verifiedChunk
	inflight := 0
	finished := make(chan struct{}, fetchCommits)
	in := c.in
	for in != nil || len(group) > 0 || inflight > 0 {
		// A group goes to the disk when it is full, or at once when the
		// disk is idle; while commits run, chunks gather into the next
		// group, so that a slow disk gets larger groups.
		if len(group) > 0 && inflight < fetchCommits && (len(group) >= fetchCommitMax || inflight == 0 || in == nil) {
			g := group
			group = nil
			inflight++
			go func() {
				c.commit(g)
				finished <- struct{}{}
			}()
			continue
		}
		recv := in
		if len(group) >= fetchCommitMax {
			recv = nil // full: wait for a commit to finish
		}
		select {
		case v, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			group = append(group, v)
		case <-finished:
			inflight--
		}
	}
}

// commit stores one group of verified chunks and counts them done.
func (c *committer) commit(group []verifiedChunk) {
	chunks := make([]storage.FetchedChunk, len(group))
	for i, v := range group {
		chunks[i] = v.FetchedChunk
	}
	var err error
	select {
	case <-c.failed:
		err = c.err
		for _, v := range group {
			v.Staged.Abort()
		}
	default:
		if err = c.f.n.db.PutFetchedChunks(string(c.id), chunks); err != nil {
			c.fail(fmt.Errorf("transfer %s: store verified chunks: %w", c.id, err))
		}
	}
	for _, v := range group {
		if err != nil {
			c.w.retry(v.Index, "")
			continue
		}
		c.f.n.metrics.FetchVerified.Inc()
		c.f.n.metrics.FetchBytes.Add(float64(v.size))
		c.j.mu.Lock()
		c.j.p.Verified++
		c.j.p.Fetched++
		c.j.p.Bytes += v.size
		c.j.p.Sources[string(v.src.court)]++
		c.j.mu.Unlock()
		c.w.finish()
	}
}
