package mesh

import (
	"context"
	"sync"
	"weak"
)

// weakChildren is the context gossipsub runs on: the node's context, but
// the contexts derived from it are not kept alive by it.
//
// go-libp2p-pubsub (v0.19.0 and its master of June 2026) derives a
// context for each new peer's sending stream (handleNewPeer:
// context.WithCancel(p.ctx)) and, on the normal path, never cancels it:
// the cancel function travels to the event loop and is dropped there. A
// child of a plain cancellable context stays registered in its parent
// until the parent ends, so a node kept one per peer that ever connected
// for the life of the process: memory grew with connection churn
// (issue 24, TestConnectionChurnMemory).
//
// context.WithCancel registers a child with a parent that is not one of
// the context package's own through the parent's AfterFunc method. This
// type answers that registration with a weak reference: the function to
// run when the node's context ends is held strongly only by the child
// (through the stop function the context package keeps in it), so a child
// nobody uses any more is collected, registration and all, and a child
// still in use is cancelled with the node's context as before.
//
// Done is a channel of its own (closed after the node's context is
// done), so that context.WithCancel does not find the node's own
// cancellable context behind it and register there instead.
type weakChildren struct {
	context.Context // the node's context: Deadline, Value

	done chan struct{}

	mu      sync.Mutex
	err     error                          // set when done is closed
	entries []weak.Pointer[afterFuncEntry] // to run when done; may be collected
	live    int                            // entries kept at the last compaction
}

// afterFuncEntry is one registration: held strongly only by its stop
// function, which the context package keeps in the child.
type afterFuncEntry struct {
	f       func()
	stopped bool // under weakChildren.mu
}

func newWeakChildren(parent context.Context) *weakChildren {
	c := &weakChildren{Context: parent, done: make(chan struct{})}
	context.AfterFunc(parent, c.end)
	return c
}

// end closes done and runs every registered function whose child is
// still alive and that was not stopped.
func (c *weakChildren) end() {
	c.mu.Lock()
	c.err = c.Context.Err()
	close(c.done)
	var run []func()
	for _, w := range c.entries {
		if e := w.Value(); e != nil && !e.stopped {
			e.stopped = true
			run = append(run, e.f)
		}
	}
	c.entries = nil
	c.mu.Unlock()
	for _, f := range run {
		f()
	}
}

func (c *weakChildren) Done() <-chan struct{} { return c.done }

func (c *weakChildren) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// AfterFunc arranges for f to run when the node's context is done, as
// context.AfterFunc does, but holds f only weakly: the returned stop
// function holds it, and the context package keeps that in the child.
func (c *weakChildren) AfterFunc(f func()) (stop func() bool) {
	e := &afterFuncEntry{f: f}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		e.stopped = true
		go f()
	} else {
		c.compact()
		c.entries = append(c.entries, weak.Make(e))
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if e.stopped {
			return false
		}
		e.stopped = true
		return true
	}
}

// compact drops the entries whose child was collected or stopped, once
// the list has doubled since the last compaction: amortised O(1) per
// registration, and the list stays within twice the children alive.
func (c *weakChildren) compact() {
	if len(c.entries) < 64 || len(c.entries) < 2*c.live {
		return
	}
	kept := c.entries[:0]
	for _, w := range c.entries {
		if e := w.Value(); e != nil && !e.stopped {
			kept = append(kept, w)
		}
	}
	clear(c.entries[len(kept):])
	c.entries = kept
	c.live = len(kept)
}
