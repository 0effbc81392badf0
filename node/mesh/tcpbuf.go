package mesh

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// TCP buffers on long links. One TCP connection carries at most the bytes
// its sender's and receiver's socket buffers hold per round trip. Linux
// sizes them automatically, up to the third field of net.ipv4.tcp_wmem
// (sender) and net.ipv4.tcp_rmem (receiver); about half of a buffer holds
// data in flight (the rest is the kernel's bookkeeping, and for the
// sender the data not yet sent). The kernel's default tcp_wmem maximum,
// 4 MiB, caps one connection near 42 MB/s at 50 ms and 10 MB/s at 200 ms:
// below a 1 Gbit/s court link. A courtmesh connection to a source is one TCP
// connection, whatever the number of yamux streams on it.

// TCPBufferAdvice is what courtmesh doctor asks for when the buffers cap
// the link: 64 MiB maxima, enough for 1 Gbit/s at 200 ms (a 25 MB
// bandwidth-delay product, twice over). Memory is taken only by
// connections that need it, as they need it.
var TCPBufferAdvice = map[string]string{
	"net.ipv4.tcp_wmem": "4096 16384 67108864",
	"net.ipv4.tcp_rmem": "4096 131072 67108864",
}

// TCPBufferMax reads the maximum (third field) of a tcp_wmem or tcp_rmem
// style sysctl from /proc/sys.
func TCPBufferMax(key string) (int64, error) {
	raw, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		return 0, err
	}
	return ParseTCPBufferMax(string(raw))
}

// ParseTCPBufferMax returns the third field of a "min default max" value.
func ParseTCPBufferMax(v string) (int64, error) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return 0, fmt.Errorf("%q: want three numbers (min, default, max)", v)
	}
	return strconv.ParseInt(f[2], 10, 64)
}

// TCPBufferCap is the rate, in bytes per second, that one TCP connection
// reaches at most over a round trip of rtt when a socket buffer may grow
// to maxBuf bytes: half the buffer per round trip.
func TCPBufferCap(maxBuf int64, rtt time.Duration) float64 {
	return float64(maxBuf) / 2 / rtt.Seconds()
}
