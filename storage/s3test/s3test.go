// Package s3test runs a real S3 server for tests: versitygw (an
// S3-compatible gateway serving a folder), built once per machine from the
// Go module proxy at a pinned version into the user's cache directory, and
// started on loopback over a temporary folder.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"courtmesh.dev/courtmesh/storage"
)

// Version is the versitygw release the tests run.
const Version = "v1.8.0"

const module = "github.com/versity/versitygw/cmd/versitygw"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of the versitygw binary, building it on first
// use (a few minutes, once per machine: it is kept under
// os.UserCacheDir()/courtmesh/versitygw-VERSION).
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { binPath, buildErr = build() })
	if buildErr != nil {
		t.Fatalf("s3test: %v", buildErr)
	}
	return binPath
}

func build() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "courtmesh", "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build into a folder of our own, then rename: a concurrent build (two
	// test binaries) or an interrupted one never leaves half a binary.
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", module+"@"+Version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build versitygw %s: %v\n%s", Version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// Server is a running versitygw serving a temporary folder.
type Server struct {
	t    testing.TB
	bin  string
	root string
	addr string
	// Opts connects a storage.S3Chunks to the server's bucket.
	Opts storage.S3Options
	cmd  *exec.Cmd
}

// Start builds (if needed) and starts a server on a free loopback port,
// with one bucket, and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), root: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	var key [12]byte
	_, _ = rand.Read(key[:])
	s.Opts = storage.S3Options{
		Endpoint:  s.addr,
		Bucket:    "courtmesh",
		Region:    "us-east-1",
		AccessKey: "test" + hex.EncodeToString(key[:4]),
		SecretKey: hex.EncodeToString(key[:]),
	}
	s.start()
	t.Cleanup(s.Stop)
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	cl, err := minio.New(s.addr, &minio.Options{Transport: tr, Creds: credentials.NewStaticV4(s.Opts.AccessKey, s.Opts.SecretKey, ""), Region: s.Opts.Region})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MakeBucket(context.Background(), s.Opts.Bucket, minio.MakeBucketOptions{Region: s.Opts.Region}); err != nil {
		t.Fatalf("s3test: make bucket: %v", err)
	}
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--port", s.addr, "--quiet", "posix", "--nometa", s.root)
	// Credentials through the environment, never the command line.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.Opts.AccessKey, "ROOT_SECRET_KEY="+s.Opts.SecretKey, "VGW_REGION="+s.Opts.Region)
	log, err := os.Create(filepath.Join(s.t.TempDir(), "versitygw.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		s.t.Fatalf("s3test: start versitygw: %v", err)
	}
	log.Close()
	s.cmd = cmd
	// Ready when it accepts connections: bounded, 600 × 50ms.
	for range 600 {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	b, _ := os.ReadFile(log.Name())
	s.t.Fatalf("s3test: versitygw did not listen on %s:\n%s", s.addr, b)
}

// Stop kills the server (SIGKILL: as a crash, not a shutdown) and waits
// for it. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts a stopped server again, on the same address and folder.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Root is the folder the server serves: bucket B's object K is the file
// Root/B/K.
func (s *Server) Root() string { return s.root }
