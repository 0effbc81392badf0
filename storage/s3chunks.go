package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// S3Options configures an S3Chunks store: an S3-compatible object store
// (MinIO, Ceph RGW, a cloud's) holding the sealed chunks.
type S3Options struct {
	// Endpoint is host:port of the S3 service, without scheme.
	Endpoint string
	// Secure selects https.
	Secure bool
	// Region is the bucket's region; empty lets the client ask.
	Region string
	// Bucket holds the chunks; it must exist.
	Bucket string
	// Prefix is prepended to every object name (e.g. "court-1101/"), so
	// that several nodes can share a bucket. One node per prefix.
	Prefix string
	// AccessKey and SecretKey are the credentials.
	AccessKey, SecretKey string
	// Suite is the algorithm suite chunk ids are checked in on read;
	// the zero value is crypto.SuiteV1.
	Suite crypto.Suite
	// MaxRetries is how often a request is retried (with backoff) on a
	// network error or a 5xx answer; 0 means 10.
	MaxRetries int
	// Transport, if set, is the HTTP transport (tests).
	Transport http.RoundTripper
}

// S3Chunks stores each chunk as one object named
// PREFIX chunks/<hex of id>: the same content address as FileChunks. A
// chunk is written to PREFIX tmp/<random> first (by a batch's Put or by
// Stage) and copied to its final name at Commit, server side, so a chunk
// under its final name is always whole; S3 acknowledges a PUT only once
// the object is durable. Leftovers under tmp/ (a crash before a commit)
// are removed when storage.Open opens the store. Every read checks the bytes against the id
// (ErrCorrupt otherwise). Requests are retried by the client with
// backoff; an error that remains is ErrUnavailable.
type S3Chunks struct {
	cl     *minio.Client
	tr     http.RoundTripper
	bucket string
	prefix string
	suite  crypto.Suite
	ctx    context.Context
	cancel context.CancelFunc
}

var _ ChunkStore = (*S3Chunks)(nil)

// OpenS3Chunks connects to the bucket and checks that it exists.
// storage.Open then removes the staged objects a crash left behind
// (RemoveStaged), once it holds the store's lock.
func OpenS3Chunks(o S3Options) (*S3Chunks, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, court.Errorf(court.ErrInvalid, "s3 chunk store: endpoint and bucket are required")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return nil, court.Errorf(court.ErrInvalid, "s3 chunk store: credentials are required")
	}
	retries := o.MaxRetries
	if retries <= 0 {
		retries = minio.MaxRetry
	}
	tr := o.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(o.Secure)
		if err != nil {
			return nil, court.Errorf(court.ErrInvalid, "s3 chunk store: %v", err)
		}
		tr = t
	}
	cl, err := minio.New(o.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:     o.Secure,
		Region:     o.Region,
		MaxRetries: retries,
		Transport:  tr,
	})
	if err != nil {
		return nil, court.Errorf(court.ErrInvalid, "s3 chunk store: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &S3Chunks{cl: cl, tr: tr, bucket: o.Bucket, prefix: o.Prefix, suite: o.Suite, ctx: ctx, cancel: cancel}
	if c.suite == 0 {
		c.suite = crypto.SuiteV1
	}
	ok, err := cl.BucketExists(ctx, o.Bucket)
	if err != nil {
		cancel()
		return nil, c.wrap("open bucket "+o.Bucket, err)
	}
	if !ok {
		cancel()
		return nil, court.Errorf(court.ErrNotFound, "s3 chunk store: bucket %q does not exist", o.Bucket)
	}
	return c, nil
}

// RemoveStaged removes the objects under tmp/: chunks staged and never
// committed (a crash). Only the process holding the store calls it.
func (c *S3Chunks) RemoveStaged() error {
	for obj := range c.cl.ListObjects(c.ctx, c.bucket, minio.ListObjectsOptions{Prefix: c.prefix + "tmp/", Recursive: true}) {
		if obj.Err != nil {
			return c.wrap("list staged chunks", obj.Err)
		}
		if err := c.cl.RemoveObject(c.ctx, c.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil && !isS3NotFound(err) {
			return c.wrap("remove staged chunk", err)
		}
	}
	return nil
}

// Remote reports that the chunks are not on the store's disk: the disk
// reserve (storage.Options.Reserve) then guards only Badger's writes.
func (c *S3Chunks) Remote() bool { return true }

func (c *S3Chunks) key(id crypto.ChunkID) string { return c.prefix + "chunks/" + id.String() }

func (c *S3Chunks) tmpKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return c.prefix + "tmp/" + hex.EncodeToString(b[:])
}

// wrap turns a client error into a court error: a missing object is
// ErrNotFound, anything else (network, 5xx after the retries, access
// denied) ErrUnavailable.
func (c *S3Chunks) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isS3NotFound(err) {
		return court.Errorf(court.ErrNotFound, "s3 chunk store: %s: not found", op)
	}
	return court.Errorf(court.ErrUnavailable, "s3 chunk store: %s: %v", op, err)
}

func isS3NotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == minio.NoSuchKey || r.StatusCode == http.StatusNotFound && r.Code != minio.NoSuchBucket
}

// Has reports whether chunk id is stored.
func (c *S3Chunks) Has(id crypto.ChunkID) (bool, error) {
	_, err := c.cl.StatObject(c.ctx, c.bucket, c.key(id), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if isS3NotFound(err) {
		return false, nil
	}
	return false, c.wrap("stat "+id.String(), err)
}

// get reads the whole object of chunk id and checks it against id.
func (c *S3Chunks) get(dst []byte, id crypto.ChunkID) ([]byte, error) {
	obj, err := c.cl.GetObject(c.ctx, c.bucket, c.key(id), minio.GetObjectOptions{})
	if err != nil {
		return dst, c.wrap("get "+id.String(), err)
	}
	defer obj.Close()
	start := len(dst)
	buf := bytes.NewBuffer(dst)
	if _, err := buf.ReadFrom(obj); err != nil {
		return dst, c.wrap("get "+id.String(), err)
	}
	out := buf.Bytes()
	if !id.VerifyIn(c.suite, out[start:]) {
		return dst, court.Errorf(court.ErrCorrupt, "s3 chunk store: object of chunk %s does not hash to its name", id)
	}
	return out, nil
}

// Append appends the sealed bytes of chunk id to dst, checked against id.
func (c *S3Chunks) Append(dst []byte, id crypto.ChunkID) ([]byte, error) { return c.get(dst, id) }

// Open reads chunk id whole (1 MiB at most), checks it and returns a
// reader over it.
func (c *S3Chunks) Open(id crypto.ChunkID) (io.ReadCloser, int64, error) {
	b, err := c.get(nil, id)
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// put uploads sealed under key. Chunks are at most a few MiB, so this is
// one PUT; the client switches to multipart past its part size.
func (c *S3Chunks) put(key string, sealed []byte) error {
	_, err := c.cl.PutObject(c.ctx, c.bucket, key, bytes.NewReader(sealed), int64(len(sealed)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	return c.wrap("put "+key, err)
}

// Stage uploads the chunk under tmp/ at once.
func (c *S3Chunks) Stage(sealed []byte) (StagedChunk, error) {
	k := c.tmpKey()
	if err := c.put(k, sealed); err != nil {
		return nil, err
	}
	return &s3Staged{c: c, key: k}, nil
}

type s3Staged struct {
	c    *S3Chunks
	key  string
	done bool
}

// Abort removes the staged object (best effort: a leftover is removed at
// the next open).
func (s *s3Staged) Abort() {
	if s.done {
		return
	}
	s.done = true
	_ = s.c.cl.RemoveObject(s.c.ctx, s.c.bucket, s.key, minio.RemoveObjectOptions{})
}

// Delete removes chunk id; an absent chunk is not an error.
func (c *S3Chunks) Delete(id crypto.ChunkID) error {
	err := c.cl.RemoveObject(c.ctx, c.bucket, c.key(id), minio.RemoveObjectOptions{})
	if err != nil && !isS3NotFound(err) {
		return c.wrap("delete "+id.String(), err)
	}
	return nil
}

// Walk lists the chunks.
func (c *S3Chunks) Walk(ctx context.Context, fn func(crypto.ChunkID) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := c.prefix + "chunks/"
	for obj := range c.cl.ListObjects(ctx, c.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if obj.Err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			return c.wrap("list chunks", obj.Err)
		}
		id, err := crypto.ParseChunkID(strings.TrimPrefix(obj.Key, p))
		if err != nil {
			continue // not a chunk: left alone
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Close cancels the requests under way and closes idle connections.
func (c *S3Chunks) Close() error {
	c.cancel()
	if t, ok := c.tr.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// NewBatch starts a batch.
func (c *S3Chunks) NewBatch() ChunkBatch {
	return &s3Batch{c: c, seen: map[crypto.ChunkID]bool{}}
}

type s3Batch struct {
	c      *S3Chunks
	seen   map[crypto.ChunkID]bool
	ids    []crypto.ChunkID
	staged []*s3Staged
}

func (b *s3Batch) Len() int { return len(b.ids) }

func (b *s3Batch) Put(id crypto.ChunkID, sealed []byte) (bool, error) {
	if b.seen[id] {
		return false, nil
	}
	if ok, err := b.c.Has(id); err != nil || ok {
		return false, err
	}
	s, err := b.c.Stage(sealed)
	if err != nil {
		return false, err
	}
	b.seen[id] = true
	b.ids = append(b.ids, id)
	b.staged = append(b.staged, s.(*s3Staged))
	return true, nil
}

func (b *s3Batch) PutStaged(id crypto.ChunkID, st StagedChunk) (bool, error) {
	s, ok := st.(*s3Staged)
	if !ok || s.c != b.c {
		return false, fmt.Errorf("s3 chunk store: chunk staged by another store")
	}
	if b.seen[id] {
		s.Abort()
		return false, nil
	}
	if ok, err := b.c.Has(id); err != nil || ok {
		s.Abort()
		return false, err
	}
	b.seen[id] = true
	b.ids = append(b.ids, id)
	b.staged = append(b.staged, s)
	return true, nil
}

// Commit copies each staged object to its final name (server side) and
// removes the staged one.
func (b *s3Batch) Commit() error {
	defer b.Discard()
	return parallel(len(b.ids), func(i int) error {
		_, err := b.c.cl.CopyObject(b.c.ctx,
			minio.CopyDestOptions{Bucket: b.c.bucket, Object: b.c.key(b.ids[i])},
			minio.CopySrcOptions{Bucket: b.c.bucket, Object: b.staged[i].key})
		return b.c.wrap("commit "+b.ids[i].String(), err)
	})
}

// Discard removes the staged objects.
func (b *s3Batch) Discard() {
	for _, s := range b.staged {
		s.Abort()
	}
	b.staged, b.ids, b.seen = nil, nil, map[crypto.ChunkID]bool{}
}
