package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/gen"
	"courtmesh.dev/courtmesh/storage/importer"
)

// The fetch protocol's guarantees, each shown on real libp2p nodes: the
// serving node refuses (and audits) every request of a court without a
// grant; a corrupted chunk from one source is caught and fetched from
// another; a fetch cut short resumes without fetching a verified chunk
// again.

// bigCase generates one case whose documents are padded to docSize bytes,
// imports it into a court's store, and returns its number and the number
// of chunks of its dossier (documents and source).
func (s *scenario) bigCase(code court.CourtCode, seed uint64, docSize int64) (court.CaseNumber, int) {
	s.t.Helper()
	cs, err := gen.Generate(filepath.Join(s.t.TempDir(), "cases"), gen.Options{Cases: 1, Seed: seed, Court: code, DocSize: docSize})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := importer.Import(context.Background(), s.as(code).Store(), cs[0].Dir, importer.Options{}); err != nil {
		s.t.Fatal(err)
	}
	return cs[0].Number, len(dossierChunks(s.t, s.as(code), cs[0].Number))
}

// dossierChunks returns the chunk IDs of a case in manifest order.
func dossierChunks(t *testing.T, n *node.Node, cn court.CaseNumber) []crypto.ChunkID {
	t.Helper()
	d, err := n.Store().Dossier(cn)
	if err != nil {
		t.Fatal(err)
	}
	return d.Chunks
}

// auditHead returns the sequence number of a node's newest audit entry.
func auditHead(t *testing.T, n *node.Node) uint64 {
	t.Helper()
	es, err := n.Store().AuditEntries(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// auditAfter returns a node's audit entries after sequence number seq.
func auditAfter(t *testing.T, n *node.Node, seq uint64) []storage.AuditEntry {
	t.Helper()
	es, err := n.Store().AuditEntries(seq+1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// servedChunks sums the chunks an "ok" dossier.chunks audit entry says
// were served ("N of M chunks, B bytes").
func servedChunks(t *testing.T, e storage.AuditEntry) int {
	t.Helper()
	n, _, ok := strings.Cut(e.Detail, " of ")
	v, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Fatalf("audit entry %d: detail %q does not say how many chunks were served", e.Seq, e.Detail)
	}
	return v
}

func manifestReq(id court.TransferID) *pb.FetchRequest {
	return &pb.FetchRequest{Version: 1, TransferId: string(id), Manifest: true}
}

// manifestFirstReq asks for the manifest and the dossier's first n chunks.
func manifestFirstReq(id court.TransferID, n uint32) *pb.FetchRequest {
	r := manifestReq(id)
	r.FirstChunks = n
	return r
}

func chunkReq(id court.TransferID, cids ...crypto.ChunkID) *pb.FetchRequest {
	r := &pb.FetchRequest{Version: 1, TransferId: string(id)}
	for _, c := range cids {
		r.ChunkIds = append(r.ChunkIds, append([]byte(nil), c[:]...))
	}
	return r
}

// rawStream opens a fetch stream from one court's node to another's.
func (s *scenario) rawStream(t *testing.T, from, to court.CourtCode) *node.FetchStreamForTest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := node.OpenFetchStreamForTest(ctx, s.as(from), s.as(to).PeerID())
	if err != nil {
		t.Fatalf("%s opens a fetch stream to %s: %v", from, to, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// expectServed sends req and expects it answered: the manifest, or every
// chunk asked for, each hashing to its ID.
func expectServed(t *testing.T, who court.CourtCode, st *node.FetchStreamForTest, req *pb.FetchRequest) {
	t.Helper()
	resp, chunks, err := st.Ask(req)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if resp.GetError() != "" {
		t.Fatalf("%s was refused: %s", who, resp.GetError())
	}
	if req.GetManifest() {
		if len(resp.GetManifest().GetChunkIds()) == 0 {
			t.Fatalf("%s got an empty manifest", who)
		}
		return
	}
	if len(chunks) != len(req.GetChunkIds()) {
		t.Fatalf("%s got %d chunks for %d asked", who, len(chunks), len(req.GetChunkIds()))
	}
	for i, c := range chunks {
		if id := crypto.ChunkIDOf(c); !bytes.Equal(id[:], req.GetChunkIds()[i]) {
			t.Fatalf("%s: chunk %d does not hash to the ID asked for", who, i)
		}
	}
}

// expectRefused sends req and expects a refusal carrying no data, with
// the stable code wantCode (FetchResponse.code: the kind of the refusal,
// which the asker acts on).
func expectRefused(t *testing.T, who court.CourtCode, st *node.FetchStreamForTest, req *pb.FetchRequest, wantCode string) string {
	t.Helper()
	resp, chunks, err := st.Ask(req)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	if resp.GetError() == "" || resp.GetManifest() != nil || len(chunks) != 0 || resp.GetChunkCount() != 0 {
		t.Fatalf("%s was served (manifest %v, %d chunks); want a refusal", who, resp.GetManifest() != nil, len(chunks))
	}
	if resp.GetCode() != wantCode {
		t.Errorf("%s was refused with code %q (%s), want %q", who, resp.GetCode(), resp.GetError(), wantCode)
	}
	return resp.GetError()
}

// expectAudited checks that the serving node's audit entries after seq
// hold exactly the refusals wanted (event -> count) for a court and
// transfer, and nothing it served.
func expectAudited(t *testing.T, server *node.Node, seq uint64, who court.CourtCode, id court.TransferID, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, e := range auditAfter(t, server, seq) {
		if e.Court != string(who) || e.Transfer != string(id) || !strings.HasPrefix(e.Event, "dossier.") {
			continue
		}
		if e.Outcome != "refused" {
			t.Errorf("audit entry %d: %s %s for %s, want only refusals", e.Seq, e.Event, e.Outcome, who)
			continue
		}
		got[e.Event]++
	}
	for ev, n := range want {
		if got[ev] != n {
			t.Errorf("%s: %d %q refusals in the audit log, want %d (all: %v)", who, got[ev], ev, n, got)
		}
	}
}

// refusedEverywhere plays every request a court could make, on two
// streams, and expects each refused with code wantCode and audited by
// the origin.
func (s *scenario) refusedEverywhere(t *testing.T, who, origin court.CourtCode, id court.TransferID, ids []crypto.ChunkID, wantCode string) {
	t.Helper()
	seq := auditHead(t, s.as(origin))
	ids = ids[:min(len(ids), 32)]
	reqs := []*pb.FetchRequest{manifestReq(id), chunkReq(id, ids[:1]...), chunkReq(id, ids...), manifestFirstReq(id, 8), manifestReq(id)}
	want := map[string]int{}
	for k := range 2 { // the second stream is refused as the first was
		st := s.rawStream(t, who, origin)
		for _, r := range reqs {
			msg := expectRefused(t, who, st, r, wantCode)
			if k == 0 && r == reqs[1] {
				t.Logf("%s refused: %s", who, msg)
			}
			if r.GetManifest() {
				want["dossier.manifest"]++
			} else {
				want["dossier.chunks"]++
			}
		}
	}
	expectAudited(t, s.as(origin), seq, who, id, want)
}

// TestFetchRefusals: It is long on purpose: one table of every fetch
// request a serving node refuses.
func TestFetchRefusals(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, expiring := s.cases("京0105", 4)
	all := append(safe, expiring...)
	cn, other := all[0], all[1]
	id := s.handedOver(t, cn)
	ids := dossierChunks(t, s.as("京0105"), cn)
	otherIDs := dossierChunks(t, s.as("京0105"), other)
	if len(ids) < 2 || len(ids) > 32 {
		t.Fatalf("the dossier has %d chunks; the test wants 2 to 32 (one request)", len(ids))
	}

	// Positive control: the receiver's requests, made the same way, are
	// served, and the origin audits them as served.
	t.Run("the receiver is served", func(t *testing.T) {
		seq := auditHead(t, s.as("京0105"))
		st := s.rawStream(t, "京0108", "京0105")
		expectServed(t, "京0108", st, manifestReq(id))
		expectServed(t, "京0108", st, chunkReq(id, ids...))
		ok := 0
		for _, e := range auditAfter(t, s.as("京0105"), seq) {
			if e.Court == "京0108" && e.Transfer == string(id) && e.Outcome == "ok" {
				ok++
			}
		}
		if ok != 2 {
			t.Errorf("%d served requests audited, want 2", ok)
		}
	})

	// A manifest asked with the first chunks: the manifest, then the
	// answer to a request for its first chunks, audited as one; the
	// stream goes on. More than 32 first chunks is refused.
	t.Run("the manifest brings the first chunks", func(t *testing.T) {
		seq := auditHead(t, s.as("京0105"))
		st := s.rawStream(t, "京0108", "京0105")
		resp, _, err := st.Ask(manifestFirstReq(id, 8))
		if err != nil || resp.GetError() != "" {
			t.Fatalf("manifest with the first chunks: %v %s", err, resp.GetError())
		}
		k := min(8, len(ids))
		if int(resp.GetChunkCount()) != k || len(resp.GetManifest().GetChunkIds()) != len(ids) {
			t.Fatalf("the manifest announces %d first chunks of %d, want %d of %d", resp.GetChunkCount(), len(resp.GetManifest().GetChunkIds()), k, len(ids))
		}
		resp, chunks, err := st.Next()
		if err != nil || resp.GetError() != "" || len(chunks) != k {
			t.Fatalf("the first chunks: %v %q, %d chunks", err, resp.GetError(), len(chunks))
		}
		for i, c := range chunks {
			if crypto.ChunkIDOf(c) != ids[i] {
				t.Fatalf("first chunk %d does not hash to the manifest's ID %d", i, i)
			}
		}
		expectServed(t, "京0108", st, chunkReq(id, ids[len(ids)-1]))
		expectRefused(t, "京0108", st, manifestFirstReq(id, 33), api.CodeInvalid)
		var events []string
		for _, e := range auditAfter(t, s.as("京0105"), seq) {
			if e.Court == "京0108" && e.Transfer == string(id) {
				events = append(events, e.Event+" "+e.Outcome)
				if e.Event == "dossier.chunks" && e.Outcome == "ok" && len(events) == 2 && servedChunks(t, e) != k {
					t.Errorf("the first chunks audited as %q, want %d served", e.Detail, k)
				}
			}
		}
		if want := []string{"dossier.manifest ok", "dossier.chunks ok", "dossier.chunks ok", "dossier.manifest refused"}; !slices.Equal(events, want) {
			t.Errorf("audited %q, want %q", events, want)
		}
	})

	// 京0102 was never part of the transfer; it learned the chunk IDs
	// (say from a leaked manifest) and asks the origin directly.
	t.Run("a court without a grant", func(t *testing.T) {
		s.refusedEverywhere(t, "京0102", "京0105", id, ids, api.CodeForbidden)
	})

	// Courts that were never designated but, like every node, know the
	// transfer from its records: the high court above every party, the
	// other intermediate court, the supreme court.
	for _, c := range []court.CourtCode{"京", "京02", court.Supreme} {
		t.Run("never designated "+string(c), func(t *testing.T) {
			if tr, err := s.as(c).Workflow().Transfer(id); err != nil || tr.State != cmproto.StateHandedOver {
				t.Fatalf("%s does not know the transfer: %v", c, err)
			}
			s.refusedEverywhere(t, c, "京0105", id, ids, api.CodeForbidden)
		})
	}

	// The designated receiver of a transfer that has not been handed over
	// holds no grant yet.
	t.Run("a receiver before the handover", func(t *testing.T) {
		tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: other.String(), Superior: "京01", Grounds: []string{"capacity"}}))
		s.expectEverywhere(tr.ID, cmproto.StateOffered)
		must(t)(s.as("京01").Workflow().Decide(ctx, tr.ID, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监31号"}))
		s.expectEverywhere(tr.ID, cmproto.StateDecided)
		must(t)(s.as("京0108").Workflow().Accept(ctx, tr.ID, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 931)}))
		s.expectEverywhere(tr.ID, cmproto.StateAccepted)
		s.refusedEverywhere(t, "京0108", "京0105", tr.ID, otherIDs, api.CodeInvalid)
		s.refusedEverywhere(t, "京01", "京0105", tr.ID, otherIDs, api.CodeInvalid)
	})

	// A reader asking, under its transfer, for a chunk of another case the
	// origin holds is refused; its next request on the stream is served.
	t.Run("a chunk not in the transfer", func(t *testing.T) {
		seq := auditHead(t, s.as("京0105"))
		st := s.rawStream(t, "京0108", "京0105")
		for _, r := range []*pb.FetchRequest{chunkReq(id, otherIDs[0]), chunkReq(id, ids[0], otherIDs[1])} {
			expectRefused(t, "京0108", st, r, api.CodeInvalid)
		}
		expectServed(t, "京0108", st, chunkReq(id, ids[0]))
		refused, served := 0, 0
		for _, e := range auditAfter(t, s.as("京0105"), seq) {
			switch {
			case e.Court == "京0108" && e.Event == "dossier.chunks" && e.Outcome == "refused":
				refused++
			case e.Court == "京0108" && e.Event == "dossier.chunks" && e.Outcome == "ok":
				served++
			}
		}
		if refused != 2 || served != 1 {
			t.Errorf("audit: %d refused and %d served, want 2 and 1", refused, served)
		}
	})

	// The decider fetches fine; the origin revokes its grant; every
	// further request is refused, on the stream that stayed open across
	// the revocation and on new ones, while the receiver still fetches.
	t.Run("a revoked grant", func(t *testing.T) {
		st := s.rawStream(t, "京01", "京0105")
		expectServed(t, "京01", st, manifestReq(id))
		expectServed(t, "京01", st, chunkReq(id, ids[:2]...))

		seq := auditHead(t, s.as("京0105"))
		must(t)(s.as("京0105").Workflow().RevokeGrant(ctx, id, "京01", "测试：撤销决定法院的调卷授权"))
		want := map[string]int{}
		for _, r := range []*pb.FetchRequest{chunkReq(id, ids[2:]...), manifestReq(id), chunkReq(id, ids[:1]...)} {
			t.Logf("on the open stream: %s", expectRefused(t, "京01", st, r, api.CodeRevoked))
			if r.GetManifest() {
				want["dossier.manifest"]++
			} else {
				want["dossier.chunks"]++
			}
		}
		expectAudited(t, s.as("京0105"), seq, "京01", id, want)
		s.refusedEverywhere(t, "京01", "京0105", id, ids, api.CodeRevoked)

		// The decider's own fetch is refused once it has heard of the
		// revocation.
		nodetest.PollUntil(t, 20*time.Second, "the revocation at the decider", func() bool {
			tr, err := s.as("京01").Workflow().Transfer(id)
			return err == nil && len(tr.RevokedGrants) == 1
		})
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := s.as("京01").Fetcher().Fetch(fctx, id); err == nil {
			t.Error("the decider fetched the dossier after its grant was revoked")
		}
		// The receiver's grant stands.
		p, err := s.as("京0108").Fetcher().Fetch(fctx, id)
		if err != nil {
			t.Fatalf("the receiver's fetch after the decider's revocation: %v", err)
		}
		if p.Sources["京01"] != 0 {
			t.Errorf("the receiver got chunks from the revoked decider: %v", p.Sources)
		}
	})

	// A court refused again and again on one stream is cut off after a
	// few refusals, each audited; an oversized transfer id is kept in the
	// audit log only as a bounded prefix.
	t.Run("repeated refusals end the stream", func(t *testing.T) {
		seq := auditHead(t, s.as("京0105"))
		st := s.rawStream(t, "京0102", "京0105")
		long := strings.Repeat("f", 60<<10)
		refusals := 0
		for range 20 {
			resp, _, err := st.Ask(&pb.FetchRequest{Version: 1, TransferId: long, Manifest: true})
			if err != nil {
				break
			}
			if resp.GetError() == "" {
				t.Fatal("a request for a transfer that does not exist was served")
			}
			refusals++
		}
		if refusals == 0 || refusals >= 20 {
			t.Fatalf("%d refusals on one stream before it ended; want a few, then the stream closed", refusals)
		}
		audited := 0
		for _, e := range auditAfter(t, s.as("京0105"), seq) {
			if e.Court == "京0102" && e.Outcome == "refused" {
				audited++
				if len(e.Transfer) > 80 {
					t.Errorf("the audit entry keeps a %d-byte transfer id", len(e.Transfer))
				}
			}
		}
		if audited != refusals {
			t.Errorf("%d refusals, %d audited", refusals, audited)
		}
	})
}

// TestFetchCorruptChunkFromAnotherSource has the decider fetch a complete
// copy, then the origin corrupts the first chunk it serves the receiver:
// the receiver rejects it, fetches it from the decider, and files a case
// that verifies.
func TestFetchCorruptChunkFromAnotherSource(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches a 97 MiB dossier twice; skipped with -short")
	}
	s := newScenario(t)
	// More chunks than one source can take while it holds back its
	// answers (64 in its byte window, plus a batch of 8 per stream waiting
	// for room): however the sources race, the origin is asked for some.
	cn, chunks := s.bigCase("京0105", 7, 12<<20)
	if chunks <= 64+2*8 {
		t.Fatalf("the dossier has %d chunks; the test needs more than %d", chunks, 64+2*8)
	}
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dp, err := s.as("京01").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("the decider's fetch: %v", err)
	}
	if dp.Fetched != chunks {
		t.Fatalf("the decider fetched %d of %d chunks", dp.Fetched, chunks)
	}

	receiver := s.as("京0108").PeerID()
	var (
		mu        sync.Mutex
		corrupted crypto.ChunkID
		fromDec   = map[crypto.ChunkID]int{}
	)
	bad := make(chan struct{})
	// The origin corrupts the first chunk it serves the receiver.
	s.as("京0105").Fetcher().SetTamper(func(p peer.ID, cid crypto.ChunkID, sealed []byte) []byte {
		if p != receiver {
			return sealed
		}
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-bad:
			return sealed
		default:
		}
		corrupted = cid
		close(bad)
		c := bytes.Clone(sealed)
		c[len(c)/2] ^= 0x5a
		return c
	})
	// The decider serves nothing until the origin has done so (bounded, so
	// that a failure shows as a failed check, not a hung test).
	s.as("京01").Fetcher().SetTamper(func(p peer.ID, cid crypto.ChunkID, sealed []byte) []byte {
		if p == receiver {
			select {
			case <-bad:
			case <-time.After(time.Minute):
			}
			mu.Lock()
			fromDec[cid]++
			mu.Unlock()
		}
		return sealed
	})
	seq := auditHead(t, s.as("京0108"))
	p, err := s.as("京0108").Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("the receiver's fetch: %v", err)
	}
	t.Logf("receiver: %d chunks, %d rejected, sources %v", p.Fetched, p.Rejected, p.Sources)
	mu.Lock()
	defer mu.Unlock()
	if corrupted == (crypto.ChunkID{}) {
		t.Fatal("the origin served the receiver no chunk; nothing was corrupted")
	}
	if p.Rejected < 1 {
		t.Errorf("rejected %d chunks; the corrupted one was not caught", p.Rejected)
	}
	if fromDec[corrupted] != 1 {
		t.Errorf("the decider served the corrupted chunk %d times, want 1", fromDec[corrupted])
	}
	if p.Verified != chunks || p.Fetched != chunks || p.Sources["京0105"]+p.Sources["京01"] != chunks || p.Sources["京01"] == 0 {
		t.Errorf("progress %+v; want every one of %d chunks verified, some from each source", p, chunks)
	}
	newNo, _ := court.ParseCaseNumber(p.NewCase)
	rep, err := s.as("京0108").Store().VerifyCase(ctx, newNo)
	if err != nil {
		t.Fatalf("the filed case does not verify: %v", err)
	}
	orig, _ := s.as("京0105").Store().VerifyCase(ctx, cn)
	if rep != orig {
		t.Errorf("received %+v, origin holds %+v", rep, orig)
	}
	badAudited := 0
	for _, e := range auditAfter(t, s.as("京0108"), seq) {
		if e.Event == "dossier.bad_chunk" && e.Outcome == "rejected" && e.Court == "京0105" && e.Transfer == string(id) {
			badAudited++
		}
	}
	if badAudited != p.Rejected {
		t.Errorf("%d dossier.bad_chunk entries in the receiver's audit log, want %d", badAudited, p.Rejected)
	}
}

// TestFetchRefusesAForgedCaseRecord: another holder of the data key (here
// the decider, after its own fetch) re-seals the case record in the
// manifest it serves, keeping the chunk list: the claim lowered, every
// measure released. The receiver checks the record against the hash in
// the origin's signed handover, refuses it and audits it, and files the
// true record from the origin once it is reachable.
func TestFetchRefusesAForgedCaseRecord(t *testing.T) {
	s := newScenario(t)
	safe, _ := s.cases("京0105", 4)
	cn := safe[0]
	id := s.handedOver(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.as("京01").Fetcher().Fetch(ctx, id); err != nil {
		t.Fatal(err)
	}
	dec := s.as("京01").Store()
	b, err := dec.FetchManifest(string(id))
	if err != nil {
		t.Fatal(err)
	}
	var m pb.FetchManifest
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	key, err := s.as("京0105").Store().DataKey(cn) // the decider's key is the same
	if err != nil {
		t.Fatal(err)
	}
	label := "fetch/" + string(id) + "/case"
	plain, err := key.OpenField(label, m.SealedCase)
	if err != nil {
		t.Fatal(err)
	}
	var v storage.CaseVersion
	if err := json.Unmarshal(plain, &v); err != nil {
		t.Fatal(err)
	}
	claim := v.ClaimFen
	v.ClaimFen = 1
	for i := range v.Measures {
		v.Measures[i].Status = court.MeasureReleased
	}
	forged, err := json.Marshal(v)
	if err == nil {
		m.SealedCase, err = key.SealField(label, forged)
	}
	if err == nil {
		b, err = proto.Marshal(&m)
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []crypto.ChunkID
	for _, c := range m.ChunkIds {
		ids = append(ids, crypto.ChunkID(c))
	}
	if err := dec.SaveFetchManifest(string(id), b, ids); err != nil {
		t.Fatal(err)
	}

	// Only the decider is reachable: its manifest is refused, and so is
	// the fetch; nothing is filed.
	recv := s.as("京0108")
	cutOff([]*node.Node{s.as("京0105")}, []*node.Node{recv}, true)
	if _, err := recv.Fetcher().Fetch(ctx, id); err == nil || !strings.Contains(err.Error(), "not the one the handover names") {
		t.Fatalf("fetch with only the forging source: %v; want the case record refused", err)
	}
	if n := assetAudits(t, recv, "dossier.bad_manifest", id); n == 0 {
		t.Error("the refused manifest is not in the receiver's audit log")
	}
	// The origin back: the true record is filed.
	cutOff([]*node.Node{s.as("京0105")}, []*node.Node{recv}, false)
	connectAll(t, s.tm.nodes)
	p, err := recv.Fetcher().Fetch(ctx, id)
	if err != nil {
		t.Fatalf("fetch with the origin back: %v", err)
	}
	newNo, err := court.ParseCaseNumber(p.NewCase)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := recv.Store().Case(newNo)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := recv.Workflow().Transfer(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClaimFen != tr.BalanceFen || got.OriginClaimFen != claim || tr.ClaimFen != claim {
		t.Fatalf("filed claim %d (origin's %d), want the handover's balance %d of the origin's claim %d", got.ClaimFen, got.OriginClaimFen, tr.BalanceFen, claim)
	}
	for _, ms := range got.Measures {
		if ms.Status == court.MeasureReleased {
			t.Fatalf("filed measure %s released, as the forged record said", ms.ID)
		}
	}
}
