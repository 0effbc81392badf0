package fetch

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/mesh"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

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
//
// first, if not nil, is the manifest's stream, on which the first chunks
// are on their way: the first stream to its source reads them and goes
// on with that stream. If any of them is not to be fetched (this store
// holds it already), the stream is reset and they are asked as any other.
func (f *Service) fetchChunks(ctx context.Context, id court.TransferID, ids []crypto.ChunkID, todo []uint32, srcs []*source, j *fetchJob, first *firstChunks) error {
	w := &work{queue: todo, left: len(todo), avoid: map[uint32]map[peer.ID]bool{}, changed: make(chan struct{}, 1)}
	if first != nil {
		if taken := w.take(first.src.peer, first.n); !slices.Equal(taken, firstIndexes(first.n)) {
			for _, i := range taken {
				w.retry(i, "")
			}
			first.discard()
			first = nil
		}
	}
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
			// The first stream starts at once; the others, on a long
			// link, once the round trip is known (a ping, unless libp2p
			// measured it already): it costs the first chunk no round
			// trip.
			for i, n := 0, 1; i < n; i++ {
				var pre *firstChunks // the first stream to first's source starts with it
				if i == 0 && first != nil && first.src == s {
					pre = first
				}
				streams.Go(func() {
					// A stream that broke (a stall, a reset) is opened
					// again, a few times, after a pause: on a short link
					// a source has one stream, and one bad moment must
					// not end the fetch when it is the only source.
					// A source that cannot be reached (a node just
					// restarted, not yet reconnected) is tried again for
					// up to the stall time before it is given up.
					var unreachableSince time.Time
					for attempt := 1; ; attempt++ {
						opened := f.streamWorker(ctx, id, ids, s, w, window, j, c, pre)
						pre = nil
						switch {
						case opened:
							unreachableSince = time.Time{}
						case unreachableSince.IsZero():
							unreachableSince = time.Now()
						}
						left, _ := w.state()
						if left == 0 || ctx.Err() != nil || s.bad.Load() >= badSourceLimit {
							return
						}
						if attempt >= fetchStreamTries && (opened || time.Since(unreachableSince) > time.Duration(f.stall.Load())) {
							return
						}
						pause := min(time.Duration(attempt)*time.Duration(f.retryPause.Load()), fetchMaxPause)
						select {
						case <-ctx.Done():
							return
						case <-time.After(pause):
						}
					}
				})
				if i == 0 {
					n = f.streamsFor(ctx, s.peer)
				}
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
				j.mu.Lock()
				why := failureSummary(j.p.Failures)
				j.mu.Unlock()
				if why == "" {
					why = "no source holds them"
				}
				return court.Errorf(court.ErrUnavailable, "transfer %s: %d chunks could not be fetched from any source (%s); verified chunks are kept and the next fetch resumes", id, left, why)
			}
			return nil
		}
	}
}

// streamsFor returns how many streams to open to a source: one on a short
// link (a LAN, loopback), where a yamux stream's window never limits its
// rate and a second stream only adds contention; on a long one, enough
// streams for fetchLinkRate's bandwidth-delay product at the measured
// round trip to fit in their windows (mesh.YamuxMaxWindow each), and one
// more so that a stream waiting for its window update does not idle the
// link.
func (f *Service) streamsFor(ctx context.Context, p peer.ID) int {
	rtt := f.h.Peerstore().LatencyEWMA(p)
	if rtt == 0 {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		select {
		case r := <-ping.Ping(pctx, f.h, p):
			if r.Error == nil {
				rtt = r.RTT
			}
		case <-pctx.Done():
		}
	}
	return streamsForRTT(rtt)
}

// streamsForRTT is streamsFor's rule; rtt 0 (not measured) is taken as a
// long link of 50 ms.
func streamsForRTT(rtt time.Duration) int {
	if rtt > 0 && rtt < fetchLongLink {
		return 1
	}
	if rtt == 0 {
		rtt = 50 * time.Millisecond
	}
	bdp := fetchLinkRate * rtt.Seconds()
	return min(1+int(math.Ceil(bdp/mesh.YamuxMaxWindow)), fetchMaxStreams)
}

// streamWorker runs one stream to a source: it keeps up to fetchPipeline
// requests in flight and verifies what comes back. When the stream breaks
// (an error, a source silent for fetchStall) the reader resets it at once
// and the requests still in flight go back to the queue for the other
// streams and sources.
//
// pre, if not nil, is a stream on which chunks 0 to pre.n-1 are already
// asked (the first chunks, with the manifest; fetchChunks took them from
// the queue): the worker reads that answer first.
func (f *Service) streamWorker(ctx context.Context, id court.TransferID, ids []crypto.ChunkID, s *source, w *work, window chan struct{}, j *fetchJob, c *committer, pre *firstChunks) (opened bool) {
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
	if pre != nil {
		st, pre.st, opened = pre.st, nil, true
		go reader()
		batch := firstIndexes(pre.n)
		if acquire(ctx, dead, window, len(batch)) {
			inflight <- batch // the channel is empty: this does not block
		} else {
			giveBack(batch, false)
			st.Reset()
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
			if st, err = f.h.NewStream(ctx, s.peer, cmproto.ProtoFetch); err != nil {
				// Not the chunks' fault: they go back for any source,
				// this one included once it answers again.
				for _, i := range batch {
					w.retry(i, "")
				}
				if ctx.Err() == nil {
					f.failed(j, id, s, reasonUnreachable, len(batch), err)
				}
				return false
			}
			opened = true
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
		st.SetWriteDeadline(time.Now().Add(time.Duration(f.stall.Load())))
		if err := cmproto.WriteDelimited(st, req); err != nil {
			giveBack(batch, true)
			if ctx.Err() == nil {
				f.failed(j, id, s, streamReason(err), len(batch), err)
			}
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
			f.log.Info("fetch stream ended; its chunks go to the other streams", "transfer", id, "court", s.court, "reason", readErr)
		}
	}
	return opened
}

// firstIndexes returns the chunk indexes 0 to n-1.
func firstIndexes(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
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
func (f *Service) readBatch(st network.Stream, id court.TransferID, ids []crypto.ChunkID, s *source, w *work, batch []uint32, j *fetchJob, c *committer) error {
	// A source that stops sending (and does not close the stream) is given
	// up after fetchStall without a new frame.
	st.SetReadDeadline(time.Now().Add(time.Duration(f.stall.Load())))
	var resp pb.FetchResponse
	if err := cmproto.ReadDelimited(st, &resp, 64<<10); err != nil {
		for _, i := range batch {
			w.retry(i, "")
		}
		f.failed(j, id, s, streamReason(err), len(batch), err)
		return err
	}
	if resp.GetError() != "" {
		for _, i := range batch {
			w.retry(i, s.peer)
		}
		s.bad.Store(badSourceLimit) // refused: do not ask this source again
		err := refusal(s.court, &resp)
		f.failed(j, id, s, refusalReason(err), len(batch), err)
		return err
	}
	if int(resp.GetChunkCount()) != len(batch) {
		for _, i := range batch {
			w.retry(i, s.peer)
		}
		s.bad.Add(1)
		err := fmt.Errorf("%s answered %d chunks for %d asked", s.court, resp.GetChunkCount(), len(batch))
		f.failed(j, id, s, reasonBadAnswer, len(batch), err)
		return err
	}
	for k, i := range batch {
		st.SetReadDeadline(time.Now().Add(time.Duration(f.stall.Load())))
		if err := f.readChunk(st, id, ids[i], i, s, w, j, c); err != nil {
			for _, r := range batch[k:] {
				w.retry(r, "")
			}
			f.failed(j, id, s, streamReason(err), len(batch)-k, err)
			return err
		}
	}
	return nil
}

// readChunk reads one chunk frame into a buffer of the checker pool and
// hands it to the checkers (see checkLoop), so that the stream is read again
// while earlier chunks are hashed and written. An error means the stream
// is broken.
func (f *Service) readChunk(st network.Stream, id court.TransferID, want crypto.ChunkID, i uint32, s *source, w *work, j *fetchJob, c *committer) error {
	size, err := cmproto.ReadFrameSize(st, cmproto.MaxChunkFrame)
	if err != nil {
		return fmt.Errorf("%s: %w", s.court, err)
	}
	if size == 0 {
		w.retry(i, s.peer) // this source does not hold it
		f.failed(j, id, s, reasonMissing, 1, fmt.Errorf("%s does not hold chunk %d", s.court, i))
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
