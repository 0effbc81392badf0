package delayline

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Netns is a network namespace this process made. It lives as long as the
// Netns is open (or a socket or process inside it does).
type Netns struct {
	// Name says which side of the line this is ("A" or "B"), for
	// messages only.
	Name string
	f    *os.File
}

// newNetns makes an anonymous network namespace and holds it open.
func newNetns(name string) (*Netns, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, whose namespace changed, ends with
		// this goroutine instead of going back to the scheduler's pool.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", name, r.err)
	}
	return &Netns{Name: name, f: r.f}, nil
}

// Do runs fn on an OS thread that has entered the namespace, and returns
// its error. Sockets fn creates belong to the namespace for their whole
// life, and processes it starts run inside it; goroutines fn starts do
// not run inside it. The thread is discarded afterwards.
func (n *Netns) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see newNetns
		if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", n.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Run runs a command (ip, sysctl, ...) inside the namespace and returns
// its output; a failure carries the output.
func (n *Netns) Run(name string, args ...string) ([]byte, error) {
	var out []byte
	err := n.Do(func() error {
		var err error
		out, err = exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %v in namespace %s: %w: %s", name, args, n.Name, err, bytes.TrimSpace(out))
		}
		return nil
	})
	return out, err
}

// Sysctl sets a sysctl inside the namespace (the net.* ones a namespace
// has of its own, such as net.ipv4.tcp_wmem) by writing its file.
func (n *Netns) Sysctl(key, value string) error {
	return n.Do(func() error {
		p := "/proc/sys/" + string(bytes.ReplaceAll([]byte(key), []byte("."), []byte("/")))
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in namespace %s: %w", key, value, n.Name, err)
		}
		return nil
	})
}

// ReadSysctl reads a sysctl inside the namespace.
func (n *Netns) ReadSysctl(key string) (string, error) {
	var v string
	err := n.Do(func() error {
		b, err := os.ReadFile("/proc/sys/" + string(bytes.ReplaceAll([]byte(key), []byte("."), []byte("/"))))
		v = string(bytes.TrimSpace(b))
		return err
	})
	return v, err
}

func (n *Netns) close() error { return n.f.Close() }
