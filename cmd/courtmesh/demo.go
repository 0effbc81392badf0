package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/devmesh"
)

func init() {
	register(&command{name: "demo", summary: "run a mesh of courts on this machine and play the story", run: runDemo})
}

// demo narrates in both languages.
type demo struct {
	w    io.Writer
	step int
}

func (d *demo) say(zh, en string, a ...any) {
	d.step++
	fmt.Fprintf(d.w, "\n[%d] %s\n    %s\n", d.step, fmt.Sprintf(zh, a...), fmt.Sprintf(en, a...))
}

func (d *demo) ok(format string, a ...any) { fmt.Fprintf(d.w, "    ✓ "+format+"\n", a...) }

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("courtmesh demo", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dir := fs.String("dir", "", "where to create the demo mesh (default: a new temporary directory)")
	once := fs.Bool("once", false, "play the story, verify every step, and exit (0 only if every step verified)")
	verbose := fs.Bool("v", false, "show the nodes' logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		var err error
		if *dir, err = os.MkdirTemp("", "courtmesh-demo-"); err != nil {
			return err
		}
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = newLogger(c.stderr, "text", slog.LevelInfo)
	}
	d := &demo{w: c.stdout}
	started := time.Now()

	courts := append(devmesh.DefaultCourts(), devmesh.Court{Code: "京0106", Roles: []crypto.Role{crypto.RoleCourt}})
	d.say("国家根证书签发 %d 个法院节点的证书，并签署信任包。", "The national root certifies %d court nodes and signs the trust bundle.", len(courts))
	m, err := devmesh.Build(*dir, courts, time.Now())
	if err != nil {
		return err
	}
	for i, ct := range m.Certs {
		d.ok("%-6s %s  (%s)", ct.Code, ct.Name, m.Dirs[i])
	}

	d.say("启动各法院节点（本机回环地址），互相连接。", "Start every court's node on loopback and connect them.")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes := make([]*node.Node, len(m.Dirs))
	done := make(chan error, len(m.Dirs))
	for i, dd := range m.Dirs {
		n, err := node.New(node.Options{Dir: dd, Logger: log.With("node", string(courts[i].Code))})
		if err != nil {
			return err
		}
		nodes[i] = n
		go func() { done <- n.Serve(ctx) }()
		select {
		case <-n.Ready():
		case err := <-done:
			return fmt.Errorf("node %s stopped: %w", courts[i].Code, err)
		}
	}
	defer func() {
		cancel()
		for range nodes {
			<-done
		}
	}()
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.Host().Connect(cctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()})
			ccancel()
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
		}
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		for _, n := range nodes {
			if len(n.Peers()) != len(nodes)-1 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("mesh did not form: %w", err)
	}
	for _, n := range nodes {
		st := n.Status()
		d.ok("%-6s sees %d certified peers; API %s", st.CourtCode, st.Peers, n.APIAddr())
	}

	d.say("一个未经认证的节点试图连接：每个节点都拒绝。", "An uncertified node tries to connect: every node refuses it.")
	refused, err := demoOutsider(ctx, nodes)
	if err != nil {
		return err
	}
	d.ok("refused by %d of %d nodes", refused, len(nodes))
	if refused != len(nodes) {
		return errors.New("an uncertified node was admitted")
	}

	victim := len(nodes) - 1
	d.say("国家根吊销 %s 的证书，运营节点推送新信任包。", "The national root revokes %s; the operator node pushes the new bundle.", courts[victim].Code)
	b, err := m.Revoke(victim, "demo: key-compromise drill", time.Now())
	if err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := nodes[0].InstallBundleRaw(ctx, b.Raw); err != nil {
		return err
	}
	vid := nodes[victim].PeerID()
	if err := waitUntil(ctx, 10*time.Second, func() bool {
		for _, n := range nodes[:victim] {
			if n.Status().Bundle.Sequence != b.Sequence {
				return false
			}
			for _, p := range n.Host().Network().Peers() {
				if p == vid {
					return false
				}
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("revoked node still connected: %w", err)
	}
	d.ok("bundle #%d in force on every node; %s disconnected everywhere in %v", b.Sequence, courts[victim].Code, time.Since(t0).Round(time.Millisecond))
	nodes = nodes[:victim]

	d.say("演示完成（%s）。", "Demo complete (%s).", time.Since(started).Round(100*time.Millisecond))
	if *once {
		return nil
	}
	fmt.Fprintf(c.stdout, "\nThe nodes keep running. Try, in another terminal:\n")
	for i, n := range nodes {
		fmt.Fprintf(c.stdout, "  courtmesh status --data %s    # %s, API on %s\n", m.Dirs[i], courts[i].Code, n.APIAddr())
	}
	fmt.Fprintf(c.stdout, "Press Ctrl-C to stop.\n")
	<-ctx.Done()
	fmt.Fprintf(c.stdout, "\nStopping the nodes…\n")
	return nil
}

// demoOutsider starts a node with keys no bundle certifies and counts the
// nodes that refuse it.
func demoOutsider(ctx context.Context, nodes []*node.Node) (int, error) {
	tmp, err := os.MkdirTemp("", "courtmesh-outsider-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	key, err := crypto.GenerateNodeKey()
	if err != nil {
		return 0, err
	}
	h, err := node.NewBareHost(key, []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		return 0, err
	}
	defer h.Close()
	refused := 0
	for _, n := range nodes {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h.Connect(cctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()})
		cancel()
		admitted := false
		for _, p := range n.Host().Network().Peers() {
			if p == h.ID() {
				admitted = true
			}
		}
		if !admitted {
			refused++
		}
	}
	return refused, nil
}

// waitUntil polls cond until it holds, the timeout passes or ctx ends.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not reached within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
