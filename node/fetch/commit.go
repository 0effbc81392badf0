package fetch

import (
	"fmt"
	"sync"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/storage"
)

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
		case !job.want.VerifyIn(f.db.Suite(), job.sealed):
			s.bad.Add(1)
			f.log.Warn("chunk failed verification; fetching it from another source", "transfer", id, "court", s.court, "chunk", i)
			f.auditDone(storage.AuditEntry{Event: "dossier.bad_chunk", Outcome: "rejected", Peer: s.peer.String(), Court: string(s.court), Transfer: string(id),
				Detail: fmt.Sprintf("chunk %d does not match the manifest", i)})
			j.mu.Lock()
			j.p.Rejected++
			j.mu.Unlock()
			f.metrics.FetchRejected.Inc()
			w.retry(i, s.peer)
			f.failed(j, id, s, reasonCorrupt, 1, fmt.Errorf("chunk %d from %s does not match the manifest", i, s.court))
		default:
			staged, err := f.db.StageChunk(job.sealed)
			if err != nil {
				if c.fail(fmt.Errorf("transfer %s: write a chunk: %w", id, err)) {
					f.failed(j, id, nil, storeReason(err), 1, err)
				}
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
	f    *Service
	id   court.TransferID
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

// fail records that the local store failed (the fetch stops); it
// reports whether err is the first such failure.
func (c *committer) fail(err error) (first bool) {
	c.failOnce.Do(func() {
		c.err = err
		close(c.failed)
		first = true
	})
	return first
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
		if err = c.f.db.PutFetchedChunks(string(c.id), chunks); err != nil {
			if c.fail(fmt.Errorf("transfer %s: store verified chunks: %w", c.id, err)) {
				c.f.failed(c.j, c.id, nil, storeReason(err), len(chunks), err)
			}
		}
	}
	for _, v := range group {
		if err != nil {
			c.w.retry(v.Index, "")
			continue
		}
		c.f.metrics.FetchVerified.Inc()
		c.f.metrics.FetchBytes.Add(float64(v.size))
		c.j.mu.Lock()
		c.j.p.Verified++
		c.j.p.Fetched++
		c.j.p.Bytes += v.size
		c.j.p.Sources[string(v.src.court)]++
		c.j.mu.Unlock()
		c.w.finish()
	}
}
