package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// sources returns the peers that may hold the dossier: the origin first,
// then the other readers still holding their grant (a court whose grant
// was revoked is not asked: its copy is no longer part of the transfer).
func (f *Service) sources(t *cmproto.Transfer, self court.CourtCode) []*source {
	var out []*source
	add := func(c court.CourtCode) {
		if c == self {
			return
		}
		cert, err := f.trust.Trust().Court(c, f.now())
		if err != nil || cert.PeerID == "" {
			return
		}
		for _, s := range out {
			if s.peer == cert.PeerID {
				return
			}
		}
		if f.addrs != nil {
			f.addrs(cert.PeerID) // a source never connected to is dialled from its heartbeat's record
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
func (f *Service) run(ctx context.Context, id court.TransferID, j *fetchJob) error {
	t, err := f.transfers.Load(id)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("transfer %s: %w", id, court.ErrNotFound)
	}
	self, err := f.self()
	if err != nil {
		return err
	}
	if err := t.MayFetch(self.Code, f.now()); err != nil {
		return err
	}
	if self.Code == t.Origin {
		return fmt.Errorf("transfer %s: this court is the origin and holds the dossier", id)
	}
	if self.Code == t.Receiver {
		if newNo, err := court.ParseCaseNumber(t.NewCaseNumber); err == nil {
			if dos, err := f.db.Dossier(newNo); err == nil {
				// Filed by an earlier run, which stopped (a crash, a
				// restart) before its receipt: nothing to fetch again.
				if root := dos.Root(); !bytes.Equal(root[:], t.MerkleRoot) {
					return fmt.Errorf("transfer %s: case %s is already filed here with other contents (Merkle root differs)", id, newNo)
				}
				return f.confirm(ctx, t, newNo, dos.Chunks, j, false)
			}
		}
	}
	var wrapped []byte
	for _, k := range t.WrappedKeys {
		if k.Court == self.Code {
			wrapped = k.Wrapped
		}
	}
	key, err := crypto.UnwrapDataKey(f.dec, "handover", string(id), wrapped)
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
		if ids, v, err = checkManifest(f.db.Suite(), t, key, m); err != nil {
			f.log.Warn("the saved fetch manifest fails its check; asking the sources again", "transfer", id, "reason", err)
			m = nil
		}
	}
	var first *firstChunks // the first chunks, asked with the manifest
	defer func() { first.discard() }()
	if m == nil {
		if m, ids, v, first, err = f.sourcesManifest(ctx, t, key, srcs); err != nil {
			return err
		}
	}
	mb, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	if err := f.db.SaveFetchManifest(string(id), mb, ids); err != nil {
		return err
	}
	// 2. What is already verified (an earlier run, or chunks this store
	// holds anyway) is not fetched again.
	done, err := f.db.FetchedChunks(string(id))
	if err != nil {
		return err
	}
	var todo []uint32
	resumed := 0
	lost := 0
	for i, cid := range ids {
		ok, _ := f.db.HasChunk(cid)
		if done[uint32(i)] && ok {
			resumed++
			continue
		}
		if done[uint32(i)] {
			lost++ // its bit outlived it (a store that failed under it): fetched again
		} else if ok {
			if err := f.db.PutFetchedChunk(string(id), uint32(i), cid, nil); err != nil {
				return err
			}
			resumed++
			continue
		}
		todo = append(todo, uint32(i))
	}
	if lost > 0 {
		f.log.Warn("chunks marked verified are missing from the store; fetching them again", "transfer", id, "chunks", lost)
	}
	j.mu.Lock()
	j.p.Chunks, j.p.Verified, j.p.Resumed = len(ids), resumed, resumed
	j.mu.Unlock()
	f.log.Info("dossier fetch", "transfer", id, "chunks", len(ids), "already_verified", resumed, "to_fetch", len(todo), "sources", len(srcs))
	// 3. Fetch the rest from every source at once.
	if len(todo) > 0 {
		if err := f.fetchChunks(ctx, id, ids, todo, srcs, j, first); err != nil {
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
		f.log.Info("dossier copy complete", "transfer", id, "chunks", len(ids))
		return nil
	}
	newNo, err := court.ParseCaseNumber(t.NewCaseNumber)
	if err != nil {
		return err
	}
	if _, err := f.db.FileReceived(string(id), newNo, self.Code, v, key, t.BalanceFen); err != nil {
		return err
	}
	f.filed() // asset updates that waited for the filing
	f.mu.Lock()
	afterFiling := f.afterFiling
	f.mu.Unlock()
	if afterFiling != nil {
		if err := afterFiling(); err != nil {
			return err
		}
	}
	return f.confirm(ctx, t, newNo, ids, j, true)
}

// sourcesManifest asks srcs in turn for t's manifest (and its first
// chunks) and returns the first that passes checkManifest, with its chunk
// IDs, its case record and the stream its first chunks come on (nil if
// none). A manifest that fails its check is audited and the next source
// asked.
func (f *Service) sourcesManifest(ctx context.Context, t *cmproto.Transfer, key crypto.DataKey, srcs []*source) (*pb.FetchManifest, []crypto.ChunkID, storage.CaseVersion, *firstChunks, error) {
	id := court.TransferID(t.ID)
	var err error
	for _, s := range srcs {
		m, first, aerr := f.askManifest(ctx, s, id)
		if aerr == nil {
			ids, v, cerr := checkManifest(f.db.Suite(), t, key, m)
			if cerr == nil {
				return m, ids, v, first, nil
			}
			first.discard()
			f.auditDone(storage.AuditEntry{Event: "dossier.bad_manifest", Outcome: "rejected", Peer: s.peer.String(), Court: string(s.court), Transfer: string(id), Detail: cerr.Error()})
			aerr = cerr
		}
		err = aerr
		f.log.Info("manifest not available from source", "court", s.court, "reason", aerr)
	}
	return nil, nil, storage.CaseVersion{}, nil, fmt.Errorf("transfer %s: no source served the manifest: %w", id, err)
}

// checkManifest checks a fetch manifest against the signed handover of
// t: its chunk list has the handover's Merkle root and count, its sealed
// case record is the one the handover names (when it names one) and
// opens with the data key, and that record's documents are exactly the
// chunk list. It returns the chunk IDs and the case record.
func checkManifest(suite crypto.Suite, t *cmproto.Transfer, key crypto.DataKey, m *pb.FetchManifest) ([]crypto.ChunkID, storage.CaseVersion, error) {
	var v storage.CaseVersion
	ids := make([]crypto.ChunkID, len(m.GetChunkIds()))
	for i, b := range m.GetChunkIds() {
		if len(b) != 32 {
			return nil, v, fmt.Errorf("transfer %s: manifest has a malformed chunk id", t.ID)
		}
		ids[i] = crypto.ChunkID(b)
	}
	if root := suite.MerkleRoot(ids); !bytes.Equal(root[:], t.MerkleRoot) || uint32(len(ids)) != t.ChunkCount {
		return nil, v, fmt.Errorf("transfer %s: the manifest does not match the handover's Merkle root; refusing it", t.ID)
	}
	if len(t.SealedCaseHash) > 0 {
		if h := sha256.Sum256(m.GetSealedCase()); !bytes.Equal(h[:], t.SealedCaseHash) {
			return nil, v, fmt.Errorf("transfer %s: the manifest's case record is not the one the handover names; refusing it", t.ID)
		}
	}
	caseJSON, err := key.OpenField(cmproto.CaseLabel(t.ID), m.GetSealedCase())
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
	if t.ClaimFen != 0 && v.ClaimFen != t.ClaimFen {
		return nil, v, fmt.Errorf("transfer %s: the case record claims %d fen, the signed handover %d; refusing it", t.ID, v.ClaimFen, t.ClaimFen)
	}
	return ids, v, nil
}

// confirm verifies the filed case and publishes the receipt (once: a
// receipt already applied is not issued again). With arrived, every chunk
// was checked against the manifest by this run (or committed after that
// check by an earlier one) just before the filing, so the case is checked
// without reading its chunks back (storage.DB.CheckFiledCase); a case
// an earlier run filed is verified in full (storage.DB.VerifyCase).
func (f *Service) confirm(ctx context.Context, t *cmproto.Transfer, newNo court.CaseNumber, ids []crypto.ChunkID, j *fetchJob, arrived bool) error {
	id := t.ID
	j.mu.Lock()
	j.p.State, j.p.Chunks, j.p.NewCase = "verifying", len(ids), newNo.String()
	j.mu.Unlock()
	check := f.db.VerifyCase
	if arrived {
		check = f.db.CheckFiledCase
	}
	rep, err := check(ctx, newNo)
	if err != nil {
		return fmt.Errorf("transfer %s: the filed case %s does not verify: %w", id, newNo, err)
	}
	j.mu.Lock()
	j.p.Verified = len(ids)
	j.mu.Unlock()
	if t.State != cmproto.StateHandedOver {
		return nil // received before: the receipt is out
	}
	root := f.db.Suite().MerkleRoot(ids)
	if _, err := f.transfers.Issue(ctx, id, &pb.Record{Body: &pb.Record_Receipt{Receipt: &pb.Receipt{MerkleRoot: root[:], ChunksVerified: uint32(len(ids))}}}); err != nil {
		return fmt.Errorf("transfer %s: publish the receipt: %w", id, err)
	}
	f.auditDone(storage.AuditEntry{Event: "dossier.received", Outcome: "ok", Transfer: string(id), Case: newNo.String(),
		Detail: fmt.Sprintf("%d documents, %d chunks, %d bytes verified; filed as %s", rep.Documents, rep.Chunks, rep.Bytes, newNo)})
	return nil
}

func (f *Service) askManifest(ctx context.Context, s *source, id court.TransferID) (*pb.FetchManifest, *firstChunks, error) {
	st, err := f.h.NewStream(ctx, s.peer, cmproto.ProtoFetch)
	if err != nil {
		return nil, nil, err
	}
	st.SetDeadline(time.Now().Add(time.Minute))
	if err := cmproto.WriteDelimited(st, &pb.FetchRequest{Version: 1, TransferId: string(id), Manifest: true, FirstChunks: fetchBatch}); err != nil {
		st.Reset()
		return nil, nil, err
	}
	var resp pb.FetchResponse
	if err := cmproto.ReadDelimited(st, &resp, 64<<20); err != nil {
		st.Reset()
		return nil, nil, err
	}
	if resp.GetError() != "" {
		st.Close()
		return nil, nil, refusal(s.court, &resp)
	}
	m := resp.GetManifest()
	if m == nil {
		st.Reset()
		return nil, nil, fmt.Errorf("%w: empty manifest", crypto.ErrMalformed)
	}
	n := int(resp.GetChunkCount())
	if n == 0 { // a build before first_chunks, or a dossier of no chunks
		st.Close()
		return m, nil, nil
	}
	if n > fetchBatch || n > len(m.GetChunkIds()) {
		st.Reset()
		return nil, nil, fmt.Errorf("%w: %s announced %d first chunks, %d asked of %d", crypto.ErrMalformed, s.court, n, fetchBatch, len(m.GetChunkIds()))
	}
	st.SetDeadline(time.Time{}) // the stream worker sets its own
	return m, &firstChunks{st: st, src: s, n: n}, nil
}

// firstChunks is the stream of a manifest request whose answer goes on
// with the dossier's first n chunks (chunk indexes 0 to n-1), answered as
// a request for them would be: the first stream worker to that source
// reads them, as if it had asked, and goes on asking on that stream.
type firstChunks struct {
	st  network.Stream
	src *source
	n   int
}

// discard resets the stream if no worker took it.
func (p *firstChunks) discard() {
	if p != nil && p.st != nil {
		p.st.Reset()
		p.st = nil
	}
}
