package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/storage"
)

// The baselines the fetch benchmark compares with.

// fbRandom is a 64 MiB random buffer the baselines send from, cyclically.
func fbRandom() []byte {
	buf := make([]byte, 64<<20)
	r := mrand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(buf)
	return buf
}

// fbSend writes n bytes from src to w in 1 MiB writes.
func fbSend(w io.Writer, src []byte, n int64) error {
	const block = 1 << 20
	for off := int64(0); n > 0; {
		k := min(int64(block), n)
		if off+k > int64(len(src)) {
			off = 0
		}
		if _, err := w.Write(src[off : off+k]); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}

// fbDrain reads r to its end (or n bytes) through a 1 MiB buffer, writing
// to w if not nil.
func fbDrain(r io.Reader, w io.Writer, n int64) (int64, error) {
	buf := make([]byte, 1<<20)
	var got int64
	for got < n {
		k, err := r.Read(buf[:min(int64(len(buf)), n-got)])
		if k > 0 && w != nil {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return got, werr
			}
		}
		got += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

const fbRawProto = "/courtmesh/bench-raw/1.0.0"

// fbRawLibp2p copies n bytes over a raw stream. With store, the reader
// keeps them as the fetch does, without the fetch protocol: 1 MiB pieces
// named by their SHA-256, written to a chunk store (storage.FileChunks in
// a temporary directory) and committed (fsync, rename, directory fsync)
// 32 at a time by a second goroutine while the next ones are read. The
// difference between this row and the fetch is the protocol's cost; the
// difference between this row and the discarding one is the disk's.
func fbRawLibp2p(b *testing.B, n int64, store bool) fbRow {
	src := fbRandom()
	k1, _, _ := lcrypto.GenerateEd25519Key(rand.Reader)
	k2, _, _ := lcrypto.GenerateEd25519Key(rand.Reader)
	srv, err := node.NewHostForTest(k1, []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := node.NewHostForTest(k2, []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	srv.SetStreamHandler(fbRawProto, func(s network.Stream) {
		defer s.Close()
		var hdr [8]byte
		if _, err := io.ReadFull(s, hdr[:]); err != nil {
			s.Reset()
			return
		}
		if err := fbSend(s, src, int64(binary.BigEndian.Uint64(hdr[:]))); err != nil {
			s.Reset()
		}
	})
	ctx := context.Background()
	if err := cli.Connect(ctx, peer.AddrInfo{ID: srv.ID(), Addrs: srv.Addrs()}); err != nil {
		b.Fatal(err)
	}
	if store {
		defer fbProfile(b, "raw-store")()
	}
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	s, err := cli.NewStream(ctx, srv.ID(), fbRawProto)
	if err != nil {
		b.Fatal(err)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(n))
	if _, err := s.Write(hdr[:]); err != nil {
		b.Fatal(err)
	}
	var got int64
	if store {
		got, err = fbDrainToStore(b, s, n)
	} else {
		got, err = fbDrain(s, nil, n)
	}
	dur, cpu := time.Since(start), fbCPU()-cpu0
	b.StopTimer()
	if err != nil || got != n {
		b.Fatalf("raw stream: %d of %d bytes: %v", got, n, err)
	}
	st := s.Conn().ConnState()
	s.Close()
	if store {
		return fbRow{"raw libp2p stream -> chunk files (hash, fsync)", n, dur, cpu, fmt.Sprintf("%s+%s, one stream, 1 MiB chunks committed 32 at a time", st.Security, st.StreamMultiplexer)}
	}
	return fbRow{"raw libp2p stream (same host options)", n, dur, cpu, fmt.Sprintf("%s+%s, one stream", st.Security, st.StreamMultiplexer)}
}

// fbDrainToStore reads n bytes from r in 1 MiB chunks into a fresh chunk
// store, staged (in packs) as a fetch stores them and committed in groups
// of 32 in the background.
func fbDrainToStore(b *testing.B, r io.Reader, n int64) (int64, error) {
	dir := b.TempDir()
	cs, err := storage.OpenFileChunks(filepath.Join(dir, "chunks"))
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	defer cs.Close()
	groups := make(chan storage.ChunkBatch, 1)
	commitErr := make(chan error, 1)
	go func() {
		var first error
		for g := range groups {
			if err := g.Commit(); err != nil && first == nil {
				first = err
			}
		}
		commitErr <- first
	}()
	buf := make([]byte, 1<<20)
	batch := cs.NewBatch()
	var got int64
	for got < n {
		k := min(int64(len(buf)), n-got)
		if _, err := io.ReadFull(r, buf[:k]); err != nil {
			close(groups)
			<-commitErr
			return got, err
		}
		st, err := cs.Stage(buf[:k])
		if err == nil {
			_, err = batch.PutStaged(crypto.ChunkIDOf(buf[:k]), st)
		}
		if err != nil {
			close(groups)
			<-commitErr
			return got, err
		}
		got += k
		if batch.Len() == 32 {
			groups <- batch
			batch = cs.NewBatch()
		}
	}
	groups <- batch
	close(groups)
	return got, <-commitErr
}

// fbDisk writes n bytes to a new file in the test's directory in 1 MiB
// writes while a second goroutine fsyncs it after every 32 MiB (at most
// two groups waiting, as a fetch's committer does), and once at the end:
// the disk alone, no network and no hashing.
func fbDisk(b *testing.B, n int64) fbRow {
	src := fbRandom()
	f, err := os.Create(filepath.Join(b.TempDir(), "disk"))
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const block, group = 1 << 20, 32
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	syncs := make(chan struct{}, 2)
	synced := make(chan error, 1)
	go func() {
		var first error
		for range syncs {
			if err := f.Sync(); err != nil && first == nil {
				first = err
			}
		}
		synced <- first
	}()
	var off int64
	for k := 1; off < n; k++ {
		m := min(int64(block), n-off)
		at := off % int64(len(src)-block)
		if _, err := f.Write(src[at : at+m]); err != nil {
			b.Fatal(err)
		}
		off += m
		if k%group == 0 || off == n {
			syncs <- struct{}{}
		}
	}
	close(syncs)
	if err := <-synced; err != nil {
		b.Fatal(err)
	}
	dur, cpu := time.Since(start), fbCPU()-cpu0
	b.StopTimer()
	return fbRow{"disk alone: write, fsync every 32 MiB", n, dur, cpu, "no network, no hash; fsyncs overlap the writes as a fetch's commits do"}
}

// fbHash hashes n bytes (1 MiB chunks, as a fetch checks them) on one
// goroutine: the CPU the check against the manifest needs, alone.
func fbHash(b *testing.B, n int64) fbRow {
	src := fbRandom()
	const block = 1 << 20
	var sink byte
	b.StartTimer()
	cpu0, start := fbCPU(), time.Now()
	for off := int64(0); off < n; off += block {
		at := off % int64(len(src)-block)
		id := crypto.ChunkIDOf(src[at : at+min(int64(block), n-off)])
		sink ^= id[0]
	}
	dur, cpu := time.Since(start), fbCPU()-cpu0
	b.StopTimer()
	fbSink = sink
	return fbRow{"SHA-256 alone (the chunk check), one goroutine", n, dur, cpu, "crypto.ChunkIDOf over 1 MiB pieces"}
}

var fbSink byte

func fbCert(b testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func fbHTTPS(b *testing.B, n int64) []fbRow {
	dir := b.TempDir()
	file := filepath.Join(dir, "dossier.bin")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := fbSend(f, fbRandom(), n); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	cert, pool := fbCert(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, file) }),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}},
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool},
	}}
	defer client.CloseIdleConnections()
	url := "https://" + ln.Addr().String() + "/dossier.bin"
	// One small request first so both variants reuse a warm connection
	// the same way (the handshake is not what is measured).
	if resp, err := client.Head(url); err == nil {
		resp.Body.Close()
	}
	get := func(name string, w io.Writer) fbRow {
		runtime.GC()
		b.StartTimer()
		cpu0, start := fbCPU(), time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		got, err := fbDrain(resp.Body, w, n)
		resp.Body.Close()
		dur, cpu := time.Since(start), fbCPU()-cpu0
		b.StopTimer()
		if err != nil || got != n {
			b.Fatalf("https: %d of %d bytes: %v", got, n, err)
		}
		note := fmt.Sprintf("%s, %s, %s", resp.Proto, tls.VersionName(resp.TLS.Version), tls.CipherSuiteName(resp.TLS.CipherSuite))
		return fbRow{name, n, dur, cpu, note}
	}
	rows := []fbRow{get("HTTPS download (net/http, TLS 1.3) -> discard", nil)}
	out, err := os.Create(filepath.Join(dir, "download.bin"))
	if err != nil {
		b.Fatal(err)
	}
	rows = append(rows, get("HTTPS download (net/http, TLS 1.3) -> file", out))
	out.Close()
	return rows
}
