package node_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/nodetest"
	"courtmesh.dev/courtmesh/storage"
	"courtmesh.dev/courtmesh/storage/s3test"
)

// TestS3ChunkStore runs the origin court 京0105 on an S3-backed chunk
// store (a real S3 server, versitygw, on loopback): a case is imported
// into the bucket, fetched by 京0108 across real nodes while the S3 server
// is killed mid-fetch and the fetch resumed once it is back, an object
// altered in the bucket is caught on read, garbage collection removes an
// unreferenced chunk from the bucket, and a staged chunk a crash left is
// removed at the next start.
//
// It is long on purpose: one story on one bucket, each step on what
// the one before left in it.
func TestS3ChunkStore(t *testing.T) {
	srv := s3test.Start(t)
	const prefix = "c0105/"
	creds := filepath.Join(t.TempDir(), "s3.credentials")
	if err := os.WriteFile(creds, []byte("access_key = \""+srv.Opts.AccessKey+"\"\nsecret_key = \""+srv.Opts.SecretKey+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := false
	ss := newStoppableScenarioWith(t, func(c court.CourtCode, cfg *config.Config) {
		if c == "京0105" {
			cfg.ChunkStore = config.ChunkStore{Kind: "s3", Endpoint: srv.Addr(), TLS: &plain, Region: srv.Opts.Region,
				Bucket: srv.Opts.Bucket, Prefix: prefix, CredentialsFile: creds}
		}
	})
	origin := ss.as("京0105")
	if _, ok := origin.Store().Chunks().(*storage.S3Chunks); !ok {
		t.Fatalf("the origin's chunk store is %T, want *storage.S3Chunks", origin.Store().Chunks())
	}
	ctx := context.Background()

	// Import: every chunk lands in the bucket, none in store/chunks.
	cn, chunks := ss.bigCase("京0105", 5, 6<<20)
	ids := dossierChunks(t, origin, cn)
	inBucket := 0
	if err := origin.Store().Chunks().Walk(ctx, func(crypto.ChunkID) error { inBucket++; return nil }); err != nil {
		t.Fatal(err)
	}
	if inBucket < chunks {
		t.Fatalf("%d chunks in the bucket after the import, want at least the dossier's %d", inBucket, chunks)
	}
	for _, id := range ids {
		obj := filepath.Join(srv.Root(), srv.Opts.Bucket, prefix+"chunks", id.String())
		if _, err := os.Stat(obj); err != nil {
			t.Fatalf("chunk %s is not an object named by its content address: %v", id, err)
		}
	}
	local := 0
	_ = filepath.WalkDir(filepath.Join(string(ss.dirs["京0105"]), storage.StoreDir, storage.ChunkDir), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			local++
		}
		return nil
	})
	if local != 0 {
		t.Errorf("%d files under store/chunks of an S3-backed node, want none", local)
	}
	if _, err := origin.Store().VerifyCase(ctx, cn); err != nil {
		t.Fatalf("verify the imported case: %v", err)
	}
	t.Logf("imported %s: %d chunks in the bucket", cn, inBucket)

	// Fetch across real nodes; the S3 server is killed after stopAt
	// chunks were served.
	if chunks < 12 {
		t.Fatalf("the dossier has %d chunks; the test wants 12 or more", chunks)
	}
	const stopAt = 5
	id := ss.handedOver(t, cn)
	receiver := ss.as("京0108")
	var (
		mu     sync.Mutex
		served int
		once   sync.Once
	)
	origin.Fetcher().SetTamper(func(p peer.ID, _ crypto.ChunkID, sealed []byte) []byte {
		if p != receiver.PeerID() {
			return sealed
		}
		mu.Lock()
		served++
		n := served
		mu.Unlock()
		if n == stopAt {
			once.Do(srv.Stop) // SIGKILL: the bucket is gone mid-fetch
		}
		return sealed
	})
	if _, err := receiver.Fetcher().Start(id); err != nil {
		t.Fatal(err)
	}
	nodetest.PollUntil(t, 2*time.Minute, "the S3 server killed mid-fetch", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return served >= stopAt
	})
	// With the bucket gone the origin cannot read a chunk: the fetch
	// cannot finish. It is cancelled (as an operator would) and resumed.
	cut, _ := receiver.Fetcher().Status(id)
	if cut.Verified >= chunks {
		t.Fatalf("the fetch finished with the S3 server killed: %+v", cut)
	}
	if _, err := origin.Store().SealedChunk(ids[len(ids)-1]); !errors.Is(err, court.ErrUnavailable) {
		t.Errorf("read a chunk with the S3 server down: %v, want unavailable", err)
	}
	receiver.Fetcher().Cancel(id)
	nodetest.PollUntil(t, 2*time.Minute, "the fetch to stop", func() bool {
		p, _ := receiver.Fetcher().Status(id)
		return p.State != "running"
	})
	bits, err := receiver.Store().FetchedChunks(string(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetch cut with %d of %d chunks verified", len(bits), chunks)

	srv.Restart()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	p, err := receiver.Fetcher().Fetch(fctx, id)
	if err != nil {
		t.Fatalf("fetch after the S3 server came back: %v", err)
	}
	t.Logf("resumed: %d resumed, %d fetched, %d chunks", p.Resumed, p.Fetched, p.Chunks)
	if p.Verified != chunks || p.Resumed != len(bits) || p.Fetched != chunks-len(bits) {
		t.Errorf("resumed fetch: %d verified, %d resumed, %d fetched; want %d, %d, %d", p.Verified, p.Resumed, p.Fetched, chunks, len(bits), chunks-len(bits))
	}

	// Verification on read: an object altered in the bucket is corrupt.
	obj := filepath.Join(srv.Root(), srv.Opts.Bucket, prefix+"chunks", ids[0].String())
	orig, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(obj, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := origin.Store().SealedChunk(ids[0]); !errors.Is(err, court.ErrCorrupt) {
		t.Errorf("read an altered object: %v, want corrupt", err)
	}
	if err := os.WriteFile(obj, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	// Garbage collection: a chunk nothing refers to is removed from the
	// bucket; the dossier's chunks stay.
	orphan := []byte("a sealed chunk that no case refers to")
	oid := origin.Store().Suite().ChunkID(orphan)
	b := origin.Store().Chunks().NewBatch()
	if _, err := b.Put(oid, orphan); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if ok, err := origin.Store().HasChunk(oid); err != nil || !ok {
		t.Fatalf("the orphan after its commit: %v, %v", ok, err)
	}
	n, err := origin.Store().CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := origin.Store().HasChunk(oid); err != nil || ok {
		t.Errorf("the orphan after garbage collection: stored %v, %v", ok, err)
	}
	if n < 1 {
		t.Errorf("garbage collection deleted %d chunks, want the orphan at least", n)
	}
	if _, err := origin.Store().VerifyCase(ctx, cn); err != nil {
		t.Errorf("verify the case after garbage collection: %v", err)
	}
	tmpDir := filepath.Join(srv.Root(), srv.Opts.Bucket, prefix+"tmp")
	if staged, err := os.ReadDir(tmpDir); err == nil && len(staged) > 0 {
		t.Errorf("%d staged objects left under tmp/ after the commits", len(staged))
	}

	// A chunk staged and never committed (a crash) is removed when the
	// node opens its store again.
	if _, err := origin.Store().Chunks().Stage([]byte("staged, never committed")); err != nil {
		t.Fatal(err)
	}
	if staged, err := os.ReadDir(tmpDir); err != nil || len(staged) != 1 {
		t.Fatalf("staged objects under tmp/: %d, %v; want 1", len(staged), err)
	}
	ss.stops["京0105"]()
	origin = ss.start("京0105")
	if staged, err := os.ReadDir(tmpDir); err == nil && len(staged) > 0 {
		t.Errorf("%d staged objects left under tmp/ after the restart", len(staged))
	}
	if _, err := origin.Store().VerifyCase(ctx, cn); err != nil {
		t.Errorf("verify the case after the restart: %v", err)
	}
}
