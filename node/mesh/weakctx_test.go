package mesh

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// entries is how many registrations the context holds, collected or not.
func (c *weakChildren) entriesHeld() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// abandonChild derives a context from c and drops it with its cancel
// function uncalled, as gossipsub's handleNewPeer does.
func abandonChild(c context.Context) {
	_, cancel := context.WithCancel(c)
	dropCancel(cancel)
}

func dropCancel(context.CancelFunc) {}

// TestWeakChildrenForgetsAbandonedChildren derives contexts the way
// gossipsub does for each new peer (context.WithCancel, the cancel
// function dropped) and checks that the node's context does not keep
// them: registrations of collected children are dropped as new ones
// come. A plain context.WithCancel parent keeps every one of them until
// it ends.
func TestWeakChildrenForgetsAbandonedChildren(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newWeakChildren(parent)
	// 10,000 peers come and go, a collection now and then.
	for range 100 {
		for range 100 {
			abandonChild(c)
		}
		runtime.GC()
	}
	if n := c.entriesHeld(); n > 1000 {
		t.Errorf("%d registrations held after 10,000 abandoned children, want at most 1,000 (twice what lives between collections, and some)", n)
	}
}

// TestWeakChildrenCancelsLiveChildren: a child still in use ends with the
// node's context, with its error and cause; a child cancelled before
// keeps its own error and is not run again; a child derived after the end
// is done at once.
func TestWeakChildrenCancelsLiveChildren(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.Background())
	c := newWeakChildren(parent)
	live, liveCancel := context.WithCancel(c)
	defer liveCancel()
	stopped, stoppedCancel := context.WithCancel(c)
	stoppedCancel()
	ran := make(chan struct{})
	context.AfterFunc(c, func() { close(ran) })
	select {
	case <-c.Done():
		t.Fatal("done before the node's context ended")
	default:
	}
	if c.Err() != nil {
		t.Fatalf("Err before the end: %v", c.Err())
	}

	why := errors.New("node closing")
	cancel(why)
	for name, ch := range map[string]<-chan struct{}{"the context": c.Done(), "a live child": live.Done(), "an AfterFunc": ran} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not done 10 s after the node's context ended", name)
		}
	}
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(live.Err(), context.Canceled) {
		t.Errorf("Err: context %v, child %v; want context.Canceled", c.Err(), live.Err())
	}
	if got := context.Cause(live); !errors.Is(got, why) {
		t.Errorf("the live child's cause is %v, want %v", got, why)
	}
	if got := context.Cause(stopped); !errors.Is(got, context.Canceled) {
		t.Errorf("a child cancelled before the end has cause %v, want its own context.Canceled", got)
	}
	late, lateCancel := context.WithCancel(c)
	defer lateCancel()
	select {
	case <-late.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a child derived after the end is not done")
	}
}
