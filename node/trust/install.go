package trust

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/crypto"
)

// InstallAndAnnounce installs a bundle or a bundle delta as if pushed by
// an operator, and announces it to the mesh if it is newer. head is the
// root-signed head of a whole bundle (as `ca bundle` writes it beside the
// bundle), or nil: with it, the head is checked against the bundle before
// anything else (InstallWithHead), kept, and announced, so that peers
// check it before they download; without it, peers can check the whole
// bundle only once they hold it. A delta has no head.
func (s *Service) InstallAndAnnounce(ctx context.Context, raw, head []byte) (bool, error) {
	install := s.Install
	if len(head) > 0 {
		install = func(raw []byte, source string) (bool, error) { return s.InstallWithHead(raw, head, source) }
	}
	if _, err := crypto.PeekDelta(raw); err == nil {
		if len(head) > 0 {
			return false, fmt.Errorf("a trust bundle delta with a head: a head describes a whole bundle; push the delta alone: %w", crypto.ErrMalformed)
		}
		install = s.InstallDelta // a delta (`ca revoke` writes one)
	}
	ok, err := install(raw, "local operator")
	if err != nil || !ok {
		return ok, err
	}
	return true, s.announce(ctx)
}

// Install verifies raw and puts it in force if it is newer. It returns
// false, nil for a bundle that is not newer, having done no work on it:
// the sequence it claims is read first, and only a newer one is verified.
func (s *Service) Install(raw []byte, source string) (bool, error) {
	return s.installFull(raw, nil, nil, source)
}

// InstallWithHead is Install for a bundle with its root-signed head (as
// `ca bundle` writes it), which the node then keeps (HeadFile) and offers
// to its peers so that they check it before downloading. The head is
// checked first, even for a bundle that is not newer: signed by the
// pinned root, and naming raw's sequence, size and SHA-256; once the
// bundle is open, its state too. A head that does not match is refused
// (crypto.ErrMalformed, of kind court.ErrInvalid) and nothing is
// installed.
func (s *Service) InstallWithHead(raw, head []byte, source string) (bool, error) {
	h, err := crypto.OpenBundleHead(s.root, head)
	if err != nil {
		s.log.Warn("trust bundle head rejected", "source", source, "reason", err)
		return false, fmt.Errorf("trust bundle refused: %w", err)
	}
	seq, serr := crypto.PeekBundleSequence(raw)
	if serr != nil || seq != h.Sequence || uint64(len(raw)) != h.Size || sha256.Sum256(raw) != h.Hash {
		err := fmt.Errorf("trust bundle of %d bytes does not match its head (bundle %d of %d bytes): is the .head file the one `ca bundle` wrote beside this bundle? %w",
			len(raw), h.Sequence, h.Size, crypto.ErrMalformed)
		s.log.Warn("trust bundle rejected", "source", source, "reason", err)
		return false, err
	}
	return s.installFull(raw, head, h, source)
}

// installFull installs the whole bundle raw if it is newer. head, if not
// nil, is its root-signed head as received (headRaw), already opened: it
// must match the bundle, and is kept with it.
func (s *Service) installFull(raw, headRaw []byte, head *crypto.BundleHead, source string) (bool, error) {
	if seq, err := crypto.PeekBundleSequence(raw); err == nil && seq <= s.cur.Load().Bundle().Sequence {
		s.declined.Add(1)
		return false, nil
	}
	s.mu.Lock()
	cur := s.cur.Load()
	if seq, err := crypto.PeekBundleSequence(raw); err == nil && seq <= cur.Bundle().Sequence {
		s.mu.Unlock()
		s.declined.Add(1)
		return false, nil
	}
	nb, err := crypto.OpenBundleCached(s.root, raw, s.cache)
	s.opened.Add(1)
	if err != nil {
		s.mu.Unlock()
		s.log.Warn("trust bundle rejected", "source", source, "reason", err)
		return false, err
	}
	s.certsVerified.Add(int64(nb.CertsVerified()))
	if head != nil {
		if !head.Matches(nb) {
			s.mu.Unlock()
			return false, fmt.Errorf("trust bundle %d: its head does not match: %w", nb.Sequence, crypto.ErrMalformed)
		}
		nb.Head = headRaw
	}
	return s.commit(cur, nb, true, source)
}

// InstallDelta applies a signed delta to the bundle in force. It returns
// false, nil for a delta that is not newer (no work done), and an error
// wrapping crypto.ErrWrongBase for one that applies to a bundle this node
// does not hold yet (the caller pulls what is missing).
func (s *Service) InstallDelta(raw []byte, source string) (bool, error) {
	d, err := crypto.PeekDelta(raw)
	if err != nil {
		return false, err
	}
	if d.Sequence <= s.cur.Load().Bundle().Sequence {
		s.declined.Add(1)
		return false, nil
	}
	s.mu.Lock()
	cur := s.cur.Load()
	if d.Sequence <= cur.Bundle().Sequence {
		s.mu.Unlock()
		s.declined.Add(1)
		return false, nil
	}
	nb, err := crypto.ApplyDelta(s.root, cur.Bundle(), raw)
	if err != nil {
		s.mu.Unlock()
		if !errors.Is(err, crypto.ErrWrongBase) {
			s.log.Warn("trust bundle delta rejected", "source", source, "sequence", d.Sequence, "reason", err)
		}
		return false, err
	}
	s.deltasApplied.Add(1)
	return s.commit(cur, nb, false, source)
}

// commit puts nb in force (s.mu held; commit releases it), persists it,
// and then, without locks, enforces it and tells the neighbours.
func (s *Service) commit(cur *crypto.Trust, nb *crypto.Bundle, full bool, source string) (bool, error) {
	next, err := cur.Replace(nb)
	if err != nil {
		s.mu.Unlock()
		if errors.Is(err, crypto.ErrStale) {
			return false, nil
		}
		return false, err
	}
	if nb.Status(s.now()) == crypto.BundleDead {
		s.mu.Unlock()
		return false, fmt.Errorf("trust bundle %d expired on %s: %w", nb.Sequence, nb.ExpiresAt.UTC().Format(time.DateOnly), crypto.ErrExpired)
	}
	if err := s.persist(nb, full); err != nil {
		s.mu.Unlock()
		return false, err
	}
	s.keepCache(nb)
	s.cur.Store(next)
	s.lastSource.Store(source)
	s.mu.Unlock()
	s.holders.forget(nb.Sequence)
	s.partials.drop(nb.Sequence)
	if s.metrics != nil {
		s.metrics.BundleInstalled.Inc()
	}
	s.log.Info("trust bundle installed", "sequence", nb.Sequence, "previous", cur.Bundle().Sequence, "source", source,
		"whole", full, "deltas", len(nb.Deltas), "certificates", len(nb.Certs), "revocations", len(nb.Revocations),
		"expires", nb.ExpiresAt.UTC().Format(time.RFC3339))
	s.enforce()
	for _, f := range s.onInstall {
		f(next)
	}
	s.goOwned(s.pokeNeighbours)
	return true, nil
}
