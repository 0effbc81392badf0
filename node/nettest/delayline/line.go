package delayline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The point-to-point addresses of the two sides.
var (
	AddrA = netip.MustParseAddr("10.201.0.1")
	AddrB = netip.MustParseAddr("10.201.0.2")
)

// MTU is the TUN devices' MTU: the size of the packets on the emulated
// wire.
const MTU = 1500

// Config is the emulated link. The zero Config is a wire with no delay
// and no rate limit (the forwarder's own ceiling).
type Config struct {
	// Rate is the bottleneck's rate in bits per second, each direction;
	// zero: unlimited.
	Rate int64
	// Delay is the one-way propagation delay; zero: none.
	Delay time.Duration
	// Queue is how many bytes may wait for the bottleneck before packets
	// are dropped; zero means one bandwidth-delay product (Rate × 2 ×
	// Delay), at least 64 KiB. Unused when Rate is zero.
	Queue int64
}

// RTT is the round trip the link adds: twice the one-way delay.
func (c Config) RTT() time.Duration { return 2 * c.Delay }

func (c Config) queue() int64 {
	if c.Queue > 0 {
		return c.Queue
	}
	return max(c.Rate/8*int64(c.RTT())/int64(time.Second), 64<<10)
}

func (c Config) String() string {
	rate := "unlimited"
	switch {
	case c.Rate >= 1e9 && c.Rate%1e9 == 0:
		rate = fmt.Sprintf("%d Gbit/s", c.Rate/1e9)
	case c.Rate > 0:
		rate = fmt.Sprintf("%g Mbit/s", float64(c.Rate)/1e6)
	}
	return fmt.Sprintf("%s, %v RTT, queue %d KiB", rate, c.RTT(), c.queue()>>10)
}

// Stats counts what crossed one direction of the line.
type Stats struct {
	Packets   uint64 // packets (super-packets) delivered
	WireBytes uint64 // bytes they take on a 1,500-byte-MTU wire
	Dropped   uint64 // packets dropped: the queue was full
	// CPU is the forwarder's own CPU time on this direction (its reading
	// and its writing thread), so far.
	CPU time.Duration
}

// Line is a running delay line between its namespaces A and B.
type Line struct {
	A, B *Netns
	cfg  atomic.Pointer[Config]
	ab   *direction // A to B
	ba   *direction // B to A
	wg   sync.WaitGroup
	once sync.Once
}

// New makes the namespaces A and B, a TUN device in each, and starts the
// forwarder between them with cfg. Close undoes all of it.
func New(cfg Config) (_ *Line, err error) {
	l := &Line{}
	l.cfg.Store(&cfg)
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.A, err = newNetns("A"); err != nil {
		return nil, err
	}
	if l.B, err = newNetns("B"); err != nil {
		return nil, err
	}
	ta, err := openTUN(l.A, AddrA, AddrB)
	if err != nil {
		return nil, err
	}
	tb, err := openTUN(l.B, AddrB, AddrA)
	if err != nil {
		ta.Close()
		return nil, err
	}
	l.ab = &direction{l: l, in: ta, out: tb, q: make(chan packet, queuePackets)}
	l.ba = &direction{l: l, in: tb, out: ta, q: make(chan packet, queuePackets)}
	for _, d := range []*direction{l.ab, l.ba} {
		l.wg.Add(2)
		go d.read()
		go d.write()
	}
	return l, nil
}

// Set changes the link; packets already queued keep the times they were
// given.
func (l *Line) Set(cfg Config) { l.cfg.Store(&cfg) }

// Config returns the link in force.
func (l *Line) Config() Config { return *l.cfg.Load() }

// Stats returns the counts of each direction: A to B, then B to A.
func (l *Line) Stats() (ab, ba Stats) { return l.ab.stats(), l.ba.stats() }

// Carried returns the wire bytes delivered so far in each direction:
// Stats' WireBytes without its CPU times, which read /proc; cheap enough
// to sample every millisecond during a measurement.
func (l *Line) Carried() (ab, ba uint64) { return l.ab.wire.Load(), l.ba.wire.Load() }

// Close stops the forwarder and releases the TUN devices and namespaces
// (which the kernel removes once nothing else holds them).
func (l *Line) Close() error {
	l.once.Do(func() {
		for _, d := range []*direction{l.ab, l.ba} {
			if d != nil {
				d.in.Close() // ends its reader, which ends its writer
			}
		}
		l.wg.Wait()
		for _, n := range []*Netns{l.A, l.B} {
			if n != nil {
				n.close()
			}
		}
	})
	return nil
}

// queuePackets bounds the packets in one direction's delay FIFO (with the
// byte queue, whichever is reached first drops): 1 Gbit/s × 100 ms in
// full-sized super-packets needs about 200, in 1,500-byte ones 8,300.
const queuePackets = 1 << 15

// virtio-net header (include/uapi/linux/virtio_net.h), which precedes
// every packet on a TUN device opened with IFF_VNET_HDR.
const (
	vnetHdrLen     = 10
	gsoNone        = 0
	bufLarge       = vnetHdrLen + 65535
	bufSmall       = 2048
	tunOffloadMask = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	// tunOffloadUSO adds UDP segmentation offload (Linux 6.2 and later):
	// a QUIC stack's UDP GSO batches then cross the line as one packet
	// each, as TCP's segments do, instead of costing the forwarder a
	// read and a write per datagram.
	tunOffloadUSO = unix.TUN_F_USO4 | unix.TUN_F_USO6
)

// openTUN creates dl0 inside ns with the point-to-point addresses local
// and peer, brings it and the namespace's loopback up.
func openTUN(ns *Netns, local, peer netip.Addr) (*os.File, error) {
	var fd int
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("/dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq("dl0")
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunOffloadMask|tunOffloadUSO); err == nil {
			return nil
		}
		// An older kernel: no USO (UDP datagrams then cross one by one).
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunOffloadMask); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETOFFLOAD: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("TUN device in namespace %s: %w", ns.Name, err)
	}
	f := os.NewFile(uintptr(fd), "dl0@"+ns.Name)
	// No IPv6 on the line: its autoconfiguration would send packets of its
	// own (a kernel without IPv6 has nothing to turn off).
	_ = ns.Sysctl("net.ipv6.conf.all.disable_ipv6", "1")
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", local.String(), "peer", peer.String(), "dev", "dl0"},
		{"link", "set", "dl0", "mtu", fmt.Sprint(MTU), "up"},
	} {
		if _, err := ns.Run("ip", args...); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

type packet struct {
	b  []byte // virtio-net header and packet
	at time.Time
}

var (
	largeBufs = sync.Pool{New: func() any { b := make([]byte, bufLarge); return &b }}
	smallBufs = sync.Pool{New: func() any { b := make([]byte, bufSmall); return &b }}
)

func getBuf(n int) []byte {
	if n <= bufSmall {
		return (*smallBufs.Get().(*[]byte))[:n]
	}
	return (*largeBufs.Get().(*[]byte))[:n]
}

func putBuf(b []byte) {
	b = b[:cap(b)]
	if cap(b) == bufSmall {
		smallBufs.Put(&b)
	} else {
		largeBufs.Put(&b)
	}
}

// direction is one way of the line: a bottleneck with a byte-bounded
// queue, then the delay.
type direction struct {
	l       *Line
	in, out *os.File
	q       chan packet

	busyUntil time.Time // when the bottleneck has sent what it holds (reader only)

	packets, wire, dropped atomic.Uint64
	// The reader's and the writer's OS threads: each goroutine keeps its
	// own, so that the forwarder's CPU can be told from the rest of the
	// process.
	readerTID, writerTID atomic.Int64
}

func (d *direction) stats() Stats {
	return Stats{Packets: d.packets.Load(), WireBytes: d.wire.Load(), Dropped: d.dropped.Load(),
		CPU: threadCPU(d.readerTID.Load()) + threadCPU(d.writerTID.Load())}
}

// threadCPU is a thread of this process's CPU time so far (0 once it has
// ended): the first field of its schedstat, in nanoseconds.
func threadCPU(tid int64) time.Duration {
	if tid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns)
}

// read takes packets from the sending side's TUN device, gives each its
// departure time from the bottleneck (or drops it) and queues it for the
// writer. It ends when the device is closed.
func (d *direction) read() {
	defer d.l.wg.Done()
	defer close(d.q)
	runtime.LockOSThread() // never unlocked: the thread ends with the reader
	d.readerTID.Store(int64(unix.Gettid()))
	buf := make([]byte, bufLarge)
	for {
		n, err := d.in.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue // a transient error (ENOBUFS, a bad packet): the packet is lost
		}
		if n <= vnetHdrLen {
			continue
		}
		wire := wireLen(buf[:n])
		cfg := d.l.cfg.Load()
		now := time.Now()
		at := now
		if cfg.Rate > 0 {
			start := d.busyUntil
			if start.Before(now) {
				start = now
			}
			backlog := int64(start.Sub(now)) * cfg.Rate / 8 / int64(time.Second)
			if backlog+int64(wire) > cfg.queue() {
				d.dropped.Add(1)
				continue
			}
			d.busyUntil = start.Add(time.Duration(int64(wire) * 8 * int64(time.Second) / cfg.Rate))
			at = d.busyUntil
		}
		p := packet{b: getBuf(n), at: at.Add(cfg.Delay)}
		copy(p.b, buf[:n])
		select {
		case d.q <- p:
		default:
			putBuf(p.b)
			d.dropped.Add(1)
		}
	}
}

// write delivers each packet into the receiving side's TUN device at its
// time. The times never decrease (one FIFO, one delay), so the head of the
// queue is always the next one due.
func (d *direction) write() {
	defer d.l.wg.Done()
	runtime.LockOSThread() // never unlocked: the thread ends with the writer
	d.writerTID.Store(int64(unix.Gettid()))
	for p := range d.q {
		if wait := time.Until(p.at); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := d.out.Write(p.b); err == nil {
			d.packets.Add(1)
			d.wire.Add(uint64(wireLen(p.b)))
		}
		putBuf(p.b)
	}
}

// wireLen is the bytes a packet (virtio-net header first) takes on a
// 1,500-byte-MTU wire: a GSO super-packet is as many segments as its
// payload needs at its segment size, each with its own headers.
func wireLen(b []byte) int {
	pkt := b[vnetHdrLen:]
	gsoType := b[1]
	gsoSize := int(binary.LittleEndian.Uint16(b[4:6]))
	if gsoType == gsoNone || gsoSize == 0 {
		return len(pkt)
	}
	hdr := headerLen(pkt)
	if hdr == 0 || hdr >= len(pkt) {
		return len(pkt)
	}
	segs := (len(pkt) - hdr + gsoSize - 1) / gsoSize
	return len(pkt) + (segs-1)*hdr
}

// headerLen is the IP and TCP (or UDP) headers' length of a TCP (UDP)
// packet, 0 if it is neither.
func headerLen(p []byte) int {
	if len(p) < 1 {
		return 0
	}
	var ip, proto int
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return 0
		}
		ip, proto = int(p[0]&0x0f)*4, int(p[9])
	case 6:
		if len(p) < 40 {
			return 0
		}
		ip, proto = 40, int(p[6])
	default:
		return 0
	}
	switch {
	case proto == unix.IPPROTO_UDP && len(p) >= ip+8:
		return ip + 8
	case proto == unix.IPPROTO_TCP && len(p) >= ip+13:
		return ip + int(p[ip+12]>>4)*4
	}
	return 0
}

// Bulk sends n bytes over one TCP connection from A to B (the server in A
// writes, the client in B reads, with the kernel's default socket
// settings in each namespace) and returns the time from the client's
// request to its reading the last byte: the rate one bulk connection
// achieves over the line. The client connects first, then asks (one
// byte) and the server starts writing when the byte arrives, as a fetch
// asks over a connection already open: the TCP handshake, a round trip
// the fetch does not pay, is not in the time. started, if not nil, is
// called as the request goes (a caller timing the transfer its own way
// starts there).
func (l *Line) Bulk(n int64, started func()) (time.Duration, error) {
	var ln net.Listener
	if err := l.A.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(AddrA, 0).String())
		return err
	}); err != nil {
		return 0, err
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			sent <- fmt.Errorf("bulk transfer: the request: %w", err)
			return
		}
		buf := make([]byte, 1<<20)
		for left := n; left > 0; {
			k, err := c.Write(buf[:min(left, int64(len(buf)))])
			if err != nil {
				sent <- err
				return
			}
			left -= int64(k)
		}
		sent <- nil
	}()
	var c net.Conn
	if err := l.B.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		return err
	}); err != nil {
		return 0, err
	}
	defer c.Close()
	if started != nil {
		started()
	}
	start := time.Now()
	if _, err := c.Write([]byte{1}); err != nil {
		return 0, fmt.Errorf("bulk transfer: the request: %w", err)
	}
	got, err := io.CopyBuffer(io.Discard, io.LimitReader(c, n), make([]byte, 1<<20))
	el := time.Since(start)
	if err == nil && got < n {
		err = fmt.Errorf("bulk transfer: %d of %d bytes", got, n)
	}
	if err != nil {
		return 0, err
	}
	return el, <-sent
}
