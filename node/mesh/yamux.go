package mesh

import (
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
)

// Yamux stream windows. A yamux stream may carry at most its receive
// window per round trip; libp2p's default starts every stream at 256 KiB
// and doubles it at most once per window update, so on a long link a
// fetch stream spends its first seconds below the link's rate (1.6 s to
// 90% at 1 Gbit/s and 50 ms). A courtmesh stream starts at
// YamuxInitialWindow instead, granted in the stream's opening frame.
// Only the memory a stream actually buffers (what the application has
// not read yet) is taken; the resource manager accounts for window growth
// beyond the first 256 KiB.
const (
	YamuxInitialWindow = 16 << 20
	YamuxMaxWindow     = 16 << 20
)

// YamuxTransport is libp2p's yamux transport with courtmesh's windows.
func YamuxTransport() *yamux.Transport {
	t := *yamux.DefaultTransport
	t.InitialStreamWindowSize = YamuxInitialWindow
	t.MaxStreamWindowSize = YamuxMaxWindow
	return &t
}
