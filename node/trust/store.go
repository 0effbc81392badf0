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
	HeadFile = "bundle.head"
	// DeltasFile holds the signed deltas applied on top of BundleFile, in
	// order, each as a length-prefixed frame.
	DeltasFile = "bundle.deltas"
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
	// LastSource names where the newest install came from: "local
	// operator", "gossip" (a delta carried by an announcement), "peer <id>".
	LastSource string
}

// Stats returns the counters so far.
func (s *Service) Stats() Stats {
	return Stats{
		BytesReceived: s.bytesIn.Load(), BundlesOpened: s.opened.Load(), CertsVerified: s.certsVerified.Load(),
		DeltasApplied: s.deltasApplied.Load(), OffersDeclined: s.declined.Load(), GossipBytes: s.gossipIn.Load(),
		LastSource: s.lastSource.Load().(string),
	}
}

// load opens the bundle in force from dir: the whole bundle (through the
// certificate cache), its head if it matches, then the deltas that apply
// on top of it. A delta that does not apply ends the chain (it is logged
// by the caller through the returned error, which does not fail the load).
func load(dir datadir.Dir, root *crypto.Certificate, cache *crypto.MemCertCache) (*crypto.Bundle, error, error) {
	raw, err := readFile(dir.Path(datadir.BundleFile), "the trust bundle; run `courtmesh trust install`")
	if err != nil {
		return nil, nil, err
	}
	b, err := crypto.OpenBundleCached(root, raw, cache)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir.Path(datadir.BundleFile), err)
	}
	if hr, err := os.ReadFile(dir.Path(HeadFile)); err == nil {
		if h, err := crypto.OpenBundleHead(root, hr); err == nil && h.Matches(b) {
			b.Head = hr
		}
	}
	dr, err := os.ReadFile(dir.Path(DeltasFile))
	if errors.Is(err, os.ErrNotExist) {
		return b, nil, nil
	}
	if err != nil {
		return b, err, nil
	}
	r := bytes.NewReader(dr)
	for r.Len() > 0 {
		d, err := cmproto.ReadFrame(r, crypto.MaxDeltaSize)
		if err != nil {
			return b, fmt.Errorf("%s: %w", dir.Path(DeltasFile), err), nil
		}
		if pd, err := crypto.PeekDelta(d); err == nil && pd.Sequence <= b.Sequence {
			continue // deltas of an older whole bundle, left by a crash
		}
		nb, err := crypto.ApplyDelta(root, b, d)
		if err != nil {
			return b, fmt.Errorf("%s: %w", dir.Path(DeltasFile), err), nil
		}
		b = nb
	}
	return b, nil, nil
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
