// Package delayline emulates a wide-area link between two network
// namespaces, in user space and at the packet level, so that the TCP (or
// QUIC) stacks of both sides see the link's delay, rate and losses.
//
// The model: a Line joins two network namespaces it makes, A and B, each
// holding one TUN device (dl0) with a point-to-point address (A is
// 10.201.0.1, B 10.201.0.2). A forwarder in this process reads every
// packet one side's kernel sends into its TUN device and writes it into
// the other side's, after it has crossed an emulated link: a bottleneck
// of Config.Rate (each direction on its own, like a full-duplex access
// link) in front of which packets wait in a FIFO of at most Config.Queue
// bytes (a packet that does not fit is dropped, as a router's tail drop
// does), then a one-way propagation delay of Config.Delay. The round trip
// is therefore 2×Delay plus the serialisation of the packets.
//
// The kernels hand the forwarder TCP segments as GSO super-packets (the
// TUN devices advertise TSO through virtio-net headers) and take them back
// the same way, so that a packet costs one read and one write whatever its
// size: the forwarder runs at gigabits per second on one core. UDP
// datagrams sent with UDP GSO (QUIC's batches) cross the same way where
// the kernel has USO for TUN devices (Linux 6.2 and later), one by one
// elsewhere. The rate
// is charged on the bytes the segments would take on a 1,500-byte-MTU
// wire (each segment's IP and TCP or UDP headers counted), and a super-packet
// that does not fit the queue is dropped whole (up to 64 KiB: a burst of
// losses, which a router with a full queue also produces).
//
// A Netns runs a function on an OS thread inside the namespace (Do):
// every socket created there belongs to the namespace for its whole life,
// whichever goroutine later uses it; processes started there (ip, sysctl)
// run inside it. The namespaces are anonymous (no /run/netns entry): they
// disappear when the Line is closed, or when the process exits, whatever
// way it exits; nothing outside them is changed.
//
// Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), /dev/net/tun and ip
// (iproute2). Nothing needs netem, fq or any other qdisc.
package delayline
