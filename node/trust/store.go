package trust

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// Files the trust service keeps beside datadir.BundleFile (the last whole
// bundle, root-signed).
const (
	// HeadFile is the root-signed head of BundleFile, when known.
	HeadFile = datadir.HeadFile
	// DeltasFile holds the signed deltas applied on top of BundleFile
	// (datadir.DeltasFile).
	DeltasFile = datadir.DeltasFile
	// CertCacheFile lists the cache keys of the certificates of the
	// bundle in force whose signatures were verified (crypto.MemCertCache):
	// a restart verifies only what it has not verified before.
	CertCacheFile = "trust-certs.cache"
)

// Stats counts the work the trust service did: tests and the TrustScale
// benchmark read it.
type Stats struct {
	BytesReceived  int64 // bytes read from peers on bundle streams (requests, offers, deltas, bundles)
	BundlesOpened  int64 // whole bundles decoded and checked
	CertsVerified  int64 // certificate signatures checked (not found in the cache)
	DeltasApplied  int64
	OffersDeclined int64 // offers and announcements not newer than the bundle in force
	GossipBytes    int64 // bytes of trust topic messages validated
	// Whole bundles this node served: their bytes (from the offset asked),
	// the uploads completed, the asks answered "busy" (uploads), and the
	// downloads it resumed from another source (partials).
	BytesServed   int64
	BundlesServed int64
	UploadsBusy   int64
	PullsResumed  int64
	// LastSource names where the newest install came from: "local
	// operator", "gossip" (a delta carried by an announcement), "peer <id>".
	LastSource string
}

// Stats returns the counters so far.
func (s *Service) Stats() Stats {
	return Stats{
		BytesReceived: s.bytesIn.Load(), BundlesOpened: s.opened.Load(), CertsVerified: s.certsVerified.Load(),
		DeltasApplied: s.deltasApplied.Load(), OffersDeclined: s.declined.Load(), GossipBytes: s.gossipIn.Load(),
		LastSource:  s.lastSource.Load().(string),
		BytesServed: s.bytesServed.Load(), BundlesServed: s.bundlesServed.Load(), UploadsBusy: s.uploadsBusy.Load(),
		PullsResumed: s.resumed.Load(),
	}
}

// load opens the bundle in force from dir (datadir.Dir.LoadBundle): a
// delta that does not apply ends the chain, and is returned as deltaErr
// for the caller to log (it does not fail the load).
func load(dir datadir.Dir, root *crypto.Certificate, cache *crypto.MemCertCache) (*crypto.Bundle, error, error) {
	return dir.LoadBundle(root, cache)
}

// persist writes what must survive a restart for b to be in force: the
// whole bundle and its head if they changed (full), and the deltas.
func (s *Service) persist(b *crypto.Bundle, full bool) error {
	if full {
		// Every bundle installed is kept too, for evidence exports (the
		// bundle in force when each record was signed).
		if err := datadir.KeepBundle(s.dir, b.Sequence, b.Raw); err != nil {
			return err
		}
		if err := datadir.WriteFileAtomic(s.dir.Path(datadir.BundleFile), b.Raw, 0o644); err != nil {
			return fmt.Errorf("persist trust bundle: %w", err)
		}
		if b.Head != nil {
			if err := datadir.WriteFileAtomic(s.dir.Path(HeadFile), b.Head, 0o644); err != nil {
				return fmt.Errorf("persist trust bundle head: %w", err)
			}
		} else if err := os.Remove(s.dir.Path(HeadFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	var buf bytes.Buffer
	for _, d := range b.Deltas {
		if err := cmproto.WriteFrame(&buf, d); err != nil {
			return err
		}
	}
	if err := datadir.WriteFileAtomic(s.dir.Path(DeltasFile), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("persist trust bundle deltas: %w", err)
	}
	return nil
}

// keepCache makes the certificate cache the keys of b and writes it.
func (s *Service) keepCache(b *crypto.Bundle) {
	s.cache.Reset(b)
	if err := datadir.WriteFileAtomic(s.dir.Path(CertCacheFile), s.cache.Marshal(), 0o600); err != nil {
		s.log.Warn("certificate cache not written; the next start verifies every certificate again", "reason", err)
	}
}
