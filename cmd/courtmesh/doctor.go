package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/config"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/mesh"
	"courtmesh.dev/courtmesh/storage"
)

func init() {
	register(&command{name: "doctor", summary: "check a node's setup and say what to fix", run: runDoctor})
}

// checkup collects the findings of doctor.
type checkup struct {
	c        *cli
	failures int
	warnings int
}

// ok, warn and fail print a finding: key is the catalogue's message, fix
// (a catalogue key, or a message already translated) what to do.
func (k *checkup) ok(key string, a ...any) { fmt.Fprintf(k.c.stdout, "  ✓ %s\n", sprintf(key, a...)) }

func (k *checkup) warn(fix, key string, a ...any) {
	k.warnings++
	fmt.Fprintf(k.c.stdout, "  ! %s\n      → %s\n", sprintf(key, a...), T(fix))
}

func (k *checkup) fail(fix, key string, a ...any) {
	k.failures++
	fmt.Fprintf(k.c.stdout, "  ✗ %s\n      → %s\n", sprintf(key, a...), T(fix))
}

func runDoctor(ctx context.Context, c *cli, args []string) error {
	fs, data := newFlags(c, "doctor")
	linkMbit := fs.Int("link-mbit", 1000, "the court's link to the mesh, Mbit/s: doctor checks that TCP's buffers let one connection fill it")
	linkRTT := fs.Duration("link-rtt", 50*time.Millisecond, "the longest round trip to a court the node fetches from (ping it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return errorf("--data is required: the node's data directory")
	}
	d := datadir.Dir(*data)
	k := &checkup{c: c}
	now := time.Now()
	fprintf(c.stdout, "Checking %s\n", *data)

	// Directory and keys.
	if st, err := os.Stat(*data); err != nil {
		k.fail(sprintf("run `courtmesh init --data %s`", *data), "data directory: %v", err)
		return k.result()
	} else if st.Mode().Perm()&0o077 != 0 {
		k.warn(sprintf("chmod 700 %s", *data), "data directory has mode %v: other users can list it", st.Mode().Perm())
	} else {
		k.ok("data directory private (%v)", st.Mode().Perm())
	}
	nk, ek, err := d.Keys()
	if err != nil {
		k.fail("check the key files' owner and mode (0600); if they are lost, init a new identity and ask the national operator for a new certificate", "node keys: %v", err)
	} else {
		k.ok("node key %s and encryption key (KEM %#04x) load, mode 0600", nk.PeerID(), ek.KEM())
	}
	if st, err := os.Stat(d.Path(datadir.TokenFile)); err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			k.fail(sprintf("chmod 600 %s", d.Path(datadir.TokenFile)), "API token readable by others (mode %v)", st.Mode().Perm())
		} else {
			k.ok("API token private")
		}
	}

	// Configuration.
	cfg, cfgErr := config.Load(d.Path(datadir.ConfigFile))
	if err := cfgErr; err != nil {
		k.fail("fix the file; every key is documented in the file `courtmesh init` writes", "configuration: %v", err)
	} else {
		k.ok("configuration valid (listen %v, API %s, metrics %s)", cfg.Listen, cfg.APIListen, cfg.MetricsListen)
	}

	// Trust: root, bundle, certificate.
	rootRaw, err := os.ReadFile(d.Path(datadir.RootFile))
	var root *crypto.Certificate
	if err == nil {
		root, err = datadir.ParseRoot(rootRaw)
	}
	if err != nil {
		k.fail("run `courtmesh trust install --root root.cert --bundle bundle.pb` with the files from the national operator", "national root: %v", err)
	} else {
		k.ok("national root pinned (serial %d, fingerprint %x)", root.Serial, root.Envelope.Signature[:8])
	}
	if root != nil {
		// The bundle in force: the whole bundle and the deltas on it.
		b, deltaErr, err := d.LoadBundle(root, nil)
		switch {
		case err != nil:
			k.fail("ask the national operator for a current bundle and install or push it", "trust bundle: %v", err)
		default:
			days := int(b.ExpiresAt.Sub(now).Hours() / 24)
			switch b.Status(now) {
			case crypto.BundleValid:
				k.ok("trust bundle #%d valid, expires %s (%d days), %d certificates%s", b.Sequence, b.ExpiresAt.Format(time.DateOnly), days, len(b.Certs), deltasNote(b))
			case crypto.BundleExpiring:
				k.warn("ask the national operator for the next bundle", "trust bundle #%d expires in %d days (%s)", b.Sequence, days, b.ExpiresAt.Format(time.DateOnly))
			case crypto.BundleGraced:
				k.fail(sprintf("install a newer bundle now: the grace period ends %s", b.ExpiresAt.Add(crypto.BundleGrace).Format(time.DateOnly)), "trust bundle #%d expired on %s", b.Sequence, b.ExpiresAt.Format(time.DateOnly))
			default:
				k.fail("install a newer bundle: the node admits no peer until then", "trust bundle #%d expired and its grace period is over", b.Sequence)
			}
			if deltaErr != nil {
				k.warn("start the node: it fetches the deltas it lacks from its peers (or install the current whole bundle)", "trust bundle deltas after #%d not applied: %v", b.Sequence, deltaErr)
			}
			if b.IssuedAt.After(now.Add(5 * time.Minute)) {
				k.fail("set the system clock (chrony/NTP against the court network's time source)", "clock: the bundle was issued at %s, in this machine's future", b.IssuedAt.Format(time.RFC3339))
			} else {
				k.ok("clock plausible (bundle issued %s ago)", now.Sub(b.IssuedAt).Round(time.Minute))
			}
			if nk != nil {
				cert, err := crypto.NewTrust(root, b).ByPeer(nk.PeerID(), now)
				if err != nil {
					k.fail("send identity.json to the national operator and install the bundle that certifies it", "certificate: %v", err)
				} else {
					days := int(cert.NotAfter.Sub(now).Hours() / 24)
					if days < 30 {
						k.warn("ask for a renewed certificate (same identity.json)", "certificate of %s %s expires in %d days", cert.Code, cert.Name, days)
					} else {
						k.ok("certified as %s %s, roles %v, %d days left", cert.Code, cert.Name, cert.Roles, days)
					}
				}
			}
		}
	}

	// Disk.
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(*data, &sfs); err == nil {
		free := int64(sfs.Bavail) * int64(sfs.Bsize)
		reserve := storage.DefaultReserve
		if cfgErr == nil {
			reserve = cfg.DiskReserve.N
		}
		if free < reserve {
			k.fail("free space on the disk (or move the data directory to a larger one): imports and fetches are refused until it is above disk_reserve", "only %s free on the data directory's disk, below its reserve of %s (disk_reserve)", humanBytes(free), humanBytes(reserve))
		} else if free < 5<<30 {
			k.warn("free space: dossiers take tens to hundreds of MB each", "only %s free on the data directory's disk", humanBytes(free))
		} else {
			k.ok("%s free on the data directory's disk", humanBytes(free))
		}
	}

	// TCP buffers against the link.
	k.tcpBuffers(readSysctl, float64(*linkMbit)*1e6/8, *linkRTT)

	// Bootstrap peers.
	if cfgErr == nil {
		for _, s := range cfg.Bootstrap {
			k.dial(s)
		}
		if len(cfg.Bootstrap) == 0 {
			k.warn("add the province's high court and the national operator to bootstrap in config.toml", "no bootstrap peers configured")
		}
	}

	// The running node.
	if cl, err := client(*data); err == nil {
		var st api.Status
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := cl.Do(cctx, "GET", "/v1/status", nil, &st)
		cancel()
		switch {
		case errors.Is(err, api.ErrNodeNotRunning):
			k.warn(sprintf("start it: `courtmesh run --data %s` or `systemctl start courtmesh`", *data), "the node is not running")
		case err != nil:
			k.fail(sprintf("check the token file and the socket %s", filepath.Join(*data, datadir.SocketFile)), "local API: %v", err)
		default:
			k.ok("node running: %d peers, bundle #%d", st.Peers, st.Bundle.Sequence)
			k.clock(st.Clock)
		}
	}
	return k.result()
}

// readSysctl reads a sysctl's value from /proc/sys.
func readSysctl(key string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	return strings.TrimSpace(string(b)), err
}

// tcpBuffers checks that the largest socket buffers TCP may give a
// connection (the third field of tcp_wmem for the sending side, tcp_rmem
// for the receiving one) let one connection carry rate bytes per second
// over rtt: a dossier from one court comes over one TCP connection.
func (k *checkup) tcpBuffers(read func(string) (string, error), rate float64, rtt time.Duration) {
	if rtt <= 0 || rate <= 0 {
		return
	}
	link := sprintf("%.0f Mbit/s at %v round trip", rate*8/1e6, rtt)
	var capped, set []string
	for _, key := range []string{"net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem"} {
		v, err := read(key)
		if err != nil {
			k.warn("check that /proc/sys is mounted (in a container, set the host's or the pod's sysctls)", "%s: %v", key, err)
			continue
		}
		maxBuf, err := mesh.ParseTCPBufferMax(v)
		if err != nil {
			k.warn("set it as three numbers, min default max", "%s: %v", key, err)
			continue
		}
		if c := mesh.TCPBufferCap(maxBuf, rtt); c < rate {
			capped = append(capped, sprintf("%s maximum %s caps one connection at %.0f MB/s", key, humanBytes(maxBuf), c/1e6))
			set = append(set, fmt.Sprintf("%s=%q", key, mesh.TCPBufferAdvice[key]))
		}
	}
	if len(capped) == 0 {
		k.ok("TCP buffers let one connection fill %s (--link-mbit, --link-rtt)", link)
		return
	}
	k.warn(sprintf("sysctl -w %s, and the same in /etc/sysctl.d/60-courtmesh.conf (docs/operations.md, \"TCP buffers on long links\")", strings.Join(set, " ")),
		"TCP buffers cap a dossier fetch below the link (%s): %s", link, strings.Join(capped, "; "))
}

// dial checks that a bootstrap address answers on TCP.
// deltasNote says how a bundle came to its sequence, when deltas did.
func deltasNote(b *crypto.Bundle) string {
	if len(b.Deltas) == 0 {
		return ""
	}
	return sprintf(" (whole bundle #%d and %d deltas)", b.FullSequence, len(b.Deltas))
}

func (k *checkup) dial(s string) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		k.fail("fix the multiaddr in config.toml", "bootstrap %q: %v", s, err)
		return
	}
	tr, _ := ma.SplitFunc(m, func(c ma.Component) bool { return c.Protocol().Code == ma.P_P2P })
	na, err := manet.ToNetAddr(tr)
	if err != nil {
		k.fail("use a /ip4|ip6|dns/.../tcp/PORT/p2p/ID address", "bootstrap %s: %v", s, err)
		return
	}
	conn, err := net.DialTimeout(na.Network(), na.String(), 3*time.Second)
	if err != nil {
		k.warn("check the court network route and the peer's firewall", "bootstrap %s unreachable: %v", na, err)
		return
	}
	conn.Close()
	k.ok("bootstrap %s reachable", na)
}

func (k *checkup) result() error {
	fprintf(k.c.stdout, "%d problem(s), %d warning(s).\n", k.failures, k.warnings)
	if k.failures > 0 {
		return errorf("doctor found %d problem(s)", k.failures)
	}
	return nil
}

// clock reports how the running node's clock compares with its peers'
// heartbeats (GET /v1/status).
func (k *checkup) clock(c *api.ClockCheck) {
	if c == nil {
		return
	}
	off := (time.Duration(c.OffsetMs) * time.Millisecond).Round(time.Second)
	tol := time.Duration(c.ToleranceMs) * time.Millisecond
	fix := T("fix the system clock: enable time sync against the court network's time source (chrony: `chronyc tracking`, `chronyc makestep`; or `timedatectl set-ntp true`), then restart the node")
	switch c.State {
	case "ahead":
		k.fail(fix, "clock: this machine's clock is %s ahead of its %d peers' (median of their heartbeats; tolerance %s): the mesh refuses the records this node issues", off, c.Peers, tol)
	case "behind":
		k.fail(fix, "clock: this machine's clock is %s behind its %d peers' (median of their heartbeats; tolerance %s): this node refuses its peers' records as dated ahead", -off, c.Peers, tol)
	case "ok":
		k.ok("clock agrees with %d peers' heartbeats (median offset %s, tolerance %s)", c.Peers, off, tol)
	default:
		if c.Peers > 0 {
			k.warn("connect the node to more peers (bootstrap in config.toml) so that it can compare clocks", "clock: only %d peer(s) heard; at least 3 are needed to judge this machine's clock", c.Peers)
			return
		}
		k.warn("connect the node to its peers (bootstrap in config.toml) so that it can compare clocks", "clock: no peer heard yet to compare this machine's clock with")
	}
}
