package trust

import (
	"context"
	"errors"
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/crypto"
)

// InstallAndAnnounce installs a bundle or a bundle delta as if pushed by
// an operator, and announces it to the mesh if it is newer.
func (s *Service) InstallAndAnnounce(ctx context.Context, raw []byte) (bool, error) {
	install := s.Install
	if _, err := crypto.PeekDelta(raw); err == nil {
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
	return s.installFull(raw, nil, source)
}

// InstallWithHead is Install for a bundle with its root-signed head (as
// `ca bundle` writes it), which the node then offers to its peers so that
// they check it before downloading.
func (s *Service) InstallWithHead(raw, head []byte, source string) (bool, error) {
	return s.installFull(raw, head, source)
}

func (s *Service) installFull(raw, head []byte, source string) (bool, error) {
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
	if len(head) > 0 {
		h, err := crypto.OpenBundleHead(s.root, head)
		if err != nil || !h.Matches(nb) {
			s.mu.Unlock()
			return false, fmt.Errorf("trust bundle %d: its head does not match (%v): %w", nb.Sequence, err, crypto.ErrMalformed)
		}
		nb.Head = head
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
