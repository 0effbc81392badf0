package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/config"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/metrics"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// Admission answers whether a peer may talk to this node now. The trust
// service implements it from the bundle in force. Admit is called on every
// dial, connection and stream, from any goroutine: it must be cheap and
// safe for concurrent use.
type Admission interface {
	Admit(p peer.ID) error
}

// Gater is the libp2p connection gater: it admits only peers certified by
// the bundle in force, on dial and on the secured inbound connection.
type Gater struct {
	adm     Admission
	log     *slog.Logger
	refused atomic.Uint64
	metrics *metrics.Metrics
	bypass  bool // tests only: let everything through to exercise the stream checks
	// blocked peers are refused as if the network between us were cut
	// (tests only: partitions).
	blocked sync.Map
}

// NewGater returns a gater admitting what adm admits, counting on m (nil:
// not counted). bypass lets every connection through: tests use it to show
// that the stream-level checks hold on their own.
func NewGater(adm Admission, log *slog.Logger, m *metrics.Metrics, bypass bool) *Gater {
	return &Gater{adm: adm, log: log, metrics: m, bypass: bypass}
}

// Block refuses every connection with p, as if the network between the
// two were cut (cut false restores it). Tests partition a mesh with it;
// current connections are not closed here.
func (g *Gater) Block(p peer.ID, cut bool) {
	if cut {
		g.blocked.Store(p, struct{}{})
	} else {
		g.blocked.Delete(p)
	}
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

func (g *Gater) allow(p peer.ID, what string) bool {
	if _, cut := g.blocked.Load(p); cut {
		return false
	}
	if g.bypass {
		return true
	}
	if err := g.adm.Admit(p); err != nil {
		g.refused.Add(1)
		if g.metrics != nil {
			g.metrics.ConnsRefused.Inc()
		}
		g.log.Info("connection refused", "peer", p, "stage", what, "reason", err)
		return false
	}
	return true
}

func (g *Gater) InterceptPeerDial(p peer.ID) bool { return g.allow(p, "dial") }

func (g *Gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return g.allow(p, "dial") }

func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	ok := g.allow(p, "secured-"+dir.String())
	if ok && g.metrics != nil {
		g.metrics.ConnsAdmitted.Inc()
	}
	return ok
}

func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// admittingRM wraps the resource manager so that every stream, of every
// protocol including libp2p's own (identify, ping, gossipsub), is refused
// to a peer that is not admitted at the moment it is opened. A gated
// connect() can appear to succeed on the dialling side; and a revocation
// can land while a connection is up: this check runs on every stream.
type admittingRM struct {
	network.ResourceManager
	adm Admission
}

func (r *admittingRM) OpenStream(p peer.ID, dir network.Direction) (network.StreamManagementScope, error) {
	if err := r.adm.Admit(p); err != nil {
		return nil, fmt.Errorf("stream refused: %w", err)
	}
	return r.ResourceManager.OpenStream(p, dir)
}

// GuardedHost is the host handed to subsystems (gossipsub, our stream
// services): every stream handler they register is wrapped with the
// Admission check, so that no handler runs for an unadmitted peer even if
// the layers below let a stream through.
type GuardedHost struct {
	host.Host
	adm Admission
	log *slog.Logger
}

// NewGuardedHost wraps h so that every stream handler registered through it
// checks adm first.
func NewGuardedHost(h host.Host, adm Admission, log *slog.Logger) *GuardedHost {
	return &GuardedHost{Host: h, adm: adm, log: log}
}

func (h *GuardedHost) guard(proto protocol.ID, handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		p := s.Conn().RemotePeer()
		if err := h.adm.Admit(p); err != nil {
			h.log.Warn("stream refused", "peer", p, "protocol", proto, "reason", err)
			s.Reset()
			return
		}
		handler(s)
	}
}

func (h *GuardedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.guard(pid, handler))
}

func (h *GuardedHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, m, h.guard(pid, handler))
}

// Limits returns the resource-manager limits: libp2p's auto-scaled
// defaults, widened at the system level for a national mesh of about
// 3,500 courts, and explicit for courtmesh's own protocols.
func Limits() rcmgr.ConcreteLimitConfig {
	base := rcmgr.DefaultLimits.AutoScale()
	p := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: 8192, ConnsInbound: 4096, ConnsOutbound: 4096,
			Streams: 65536, StreamsInbound: 32768, StreamsOutbound: 32768,
			FD: 8192,
		},
		Protocol: map[protocol.ID]rcmgr.ResourceLimits{
			cmproto.ProtoBundle:   {Streams: 128, StreamsInbound: 64, StreamsOutbound: 64, Memory: 64 << 20},
			cmproto.ProtoBundleV1: {Streams: 128, StreamsInbound: 64, StreamsOutbound: 64, Memory: 64 << 20},
			cmproto.ProtoSync:     {Streams: 512, StreamsInbound: 256, StreamsOutbound: 256, Memory: 256 << 20},
			cmproto.ProtoFetch:    {Streams: 256, StreamsInbound: 128, StreamsOutbound: 128, Memory: 1 << 30},
		},
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{
			cmproto.ProtoBundle:   {Streams: 2, StreamsInbound: 1, StreamsOutbound: 1, Memory: 34 << 20},
			cmproto.ProtoBundleV1: {Streams: 2, StreamsInbound: 1, StreamsOutbound: 1, Memory: 34 << 20},
			cmproto.ProtoSync:     {Streams: 8, StreamsInbound: 4, StreamsOutbound: 4, Memory: 64 << 20},
			cmproto.ProtoFetch:    {Streams: 16, StreamsInbound: 8, StreamsOutbound: 8, Memory: 256 << 20},
		},
	}
	return p.Build(base)
}

// HostOption changes how NewHost builds a host.
type HostOption func(*hostOptions) error

type hostOptions struct {
	sockets     func(func() error) error
	quic        bool
	quicWindows bool
}

// WithQUIC adds libp2p's QUIC transport (quic-v1) beside TCP: the host
// listens on the /udp/.../quic-v1 addresses among its listen addresses
// and dials them. Only BenchmarkFetchWAN uses it, to compare QUIC with
// TCP over the same links; the configuration has no QUIC (see
// docs/operations.md, "QUIC"). A private network (a pre-shared key) and
// QUIC do not go together: libp2p refuses it.
//
// With fullWindows (and WithSockets), the connections the host dials
// start with their receive windows at libp2p's maxima (10 MB a stream,
// 15 MB the connection) instead of quic-go's 512 KiB, which QUIC's
// auto-tuning grows round trip by round trip, as the yamux windows over
// TCP start at YamuxInitialWindow.
func WithQUIC(fullWindows bool) HostOption {
	return func(o *hostOptions) error {
		o.quic = true
		o.quicWindows = fullWindows
		return nil
	}
}

// WithSockets has in make every socket the host listens on and every TCP
// connection it dials: in runs its function and returns its error.
// Benchmarks use it to put a node inside a network namespace they made
// (delayline.Netns.Do), a socket belonging to the namespace in which it
// was created; without it sockets are made in the process's namespace.
func WithSockets(in func(func() error) error) HostOption {
	return func(o *hostOptions) error {
		if in == nil {
			return fmt.Errorf("WithSockets: nil function")
		}
		o.sockets = in
		return nil
	}
}

// NewHost builds the node's libp2p host: TCP, TLS then Noise, yamux
// (its windows set by YamuxTransport), no relay, the gater g on every
// connection and adm on every stream (through the resource manager,
// whose limits are Limits), and the pre-shared key in pskFile if one is
// given ("": none).
func NewHost(priv lcrypto.PrivKey, listen []string, pskFile string, g *Gater, adm Admission, options ...HostOption) (host.Host, error) {
	var o hostOptions
	for _, opt := range options {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(Limits()))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	var tcpOpts []any
	if o.sockets != nil {
		tcpOpts = append(tcpOpts, tcp.WithDialerForAddr(func(ma.Multiaddr) (tcp.ContextDialer, error) {
			return socketsDialer(o.sockets), nil
		}))
	}
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.Transport(tcp.NewTCPTransport, tcpOpts...),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, YamuxTransport()),
		libp2p.ConnectionGater(g),
		libp2p.ResourceManager(&admittingRM{ResourceManager: rm, adm: adm}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	}
	var quicCM *quicreuse.ConnManager
	if o.quic {
		opts = append(opts, libp2p.Transport(libp2pquic.NewTransport))
		if o.sockets != nil {
			if quicCM, err = socketsQUICReuse(priv, o.sockets); err != nil {
				rm.Close()
				return nil, err
			}
			if o.quicWindows {
				// The configuration every dial clones.
				c := quicCM.ClientConfig()
				c.InitialStreamReceiveWindow = c.MaxStreamReceiveWindow
				c.InitialConnectionReceiveWindow = c.MaxConnectionReceiveWindow
			}
			opts = append(opts, libp2p.QUICReuse(func() *quicreuse.ConnManager { return quicCM }))
		}
	}
	if o.sockets == nil {
		opts = append(opts, libp2p.ListenAddrStrings(listen...))
	} else {
		// libp2p listens on another goroutine: listened on below instead,
		// inside o.sockets.
		opts = append(opts, libp2p.NoListenAddrs)
	}
	if pskFile != "" {
		f, err := os.Open(pskFile)
		if err != nil {
			rm.Close()
			return nil, fmt.Errorf("pre-shared key: %w", err)
		}
		psk, err := pnet.DecodeV1PSK(f)
		f.Close()
		if err != nil {
			rm.Close()
			return nil, fmt.Errorf("pre-shared key %s: %w", pskFile, err)
		}
		opts = append(opts, libp2p.PrivateNetwork(psk))
	}
	h, err := libp2p.New(opts...)
	if err == nil && quicCM != nil {
		h = &closingHost{Host: h, after: quicCM.Close}
	}
	if err != nil {
		// The host was not built, so nothing else closes the resource
		// manager and its background goroutine.
		rm.Close()
		if quicCM != nil {
			quicCM.Close()
		}
		return nil, fmt.Errorf("libp2p host: %w", err)
	}
	if o.sockets != nil && len(listen) > 0 {
		addrs := make([]ma.Multiaddr, 0, len(listen))
		for _, l := range listen {
			a, err := ma.NewMultiaddr(l)
			if err != nil {
				h.Close()
				return nil, fmt.Errorf("listen address %q: %w", l, err)
			}
			addrs = append(addrs, a)
		}
		if err := o.sockets(func() error { return h.Network().Listen(addrs...) }); err != nil {
			h.Close()
			return nil, fmt.Errorf("listen on %v: %w", listen, err)
		}
	}
	return h, nil
}

// socketsQUICReuse is the QUIC connection manager of a host whose
// sockets are made by in (WithSockets). libp2p's own makes its UDP
// sockets lazily, on whichever goroutine dials first, and picks the
// socket a dial reuses by asking the kernel for a route from that
// goroutine's thread: both happen outside in's namespace, where the
// namespace's addresses have no route, so every dial went out of a
// socket of the process's namespace and timed out. Here every UDP socket
// is made inside in, and the route is asked there too, so that a dial
// reuses the socket the host listens on.
func socketsQUICReuse(priv lcrypto.PrivKey, in func(func() error) error) (*quicreuse.ConnManager, error) {
	srk, err := config.PrivKeyToStatelessResetKey(priv)
	if err != nil {
		return nil, fmt.Errorf("QUIC stateless reset key: %w", err)
	}
	tok, err := config.PrivKeyToTokenGeneratorKey(priv)
	if err != nil {
		return nil, fmt.Errorf("QUIC token key: %w", err)
	}
	return quicreuse.NewConnManager(srk, tok,
		quicreuse.OverrideListenUDP(func(network string, laddr *net.UDPAddr) (net.PacketConn, error) {
			var c net.PacketConn
			err := in(func() error {
				var err error
				c, err = net.ListenUDP(network, laddr)
				return err
			})
			return c, err
		}),
		quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) {
			return socketsSourceIP(in), nil
		}))
}

// socketsSourceIP is the source address the kernel of in's namespace
// would give a datagram to a destination: the local address of a UDP
// socket connected there (connecting sends nothing).
type socketsSourceIP func(func() error) error

func (in socketsSourceIP) PreferredSourceIPForDestination(dst *net.UDPAddr) (net.IP, error) {
	var ip net.IP
	err := in(func() error {
		c, err := net.DialUDP("udp", nil, dst)
		if err != nil {
			return err
		}
		defer c.Close()
		ip = c.LocalAddr().(*net.UDPAddr).IP
		return nil
	})
	return ip, err
}

// closingHost closes a part of its own after the host.
type closingHost struct {
	host.Host
	after func() error
}

func (h *closingHost) Close() error {
	err := h.Host.Close()
	if err2 := h.after(); err == nil {
		err = err2
	}
	return err
}

// socketsDialer dials TCP with the socket made inside its function.
type socketsDialer func(func() error) error

func (in socketsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := in(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// NewBareHost builds a host with courtmesh's transports and no Admission
// control at all: the demo uses it to play an uncertified outsider.
func NewBareHost(key *crypto.NodeKey, listen []string) (host.Host, error) {
	return libp2p.New(
		libp2p.Identity(key.Libp2p()),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, YamuxTransport()),
		libp2p.DisableRelay(),
	)
}
