package health

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
)

// Mesh reports every node this node follows (its province's; all on an
// operator node) as the bundle certifies them and their heartbeats show
// them, with the problems operators must act on.
func (s *Service) Mesh() []api.CourtHealth {
	now := s.now()
	t := s.d.Trust.Trust()
	ours := t.Bundle().Sequence
	s.mu.Lock()
	defer s.mu.Unlock()
	follow := map[court.CourtCode]bool{}
	for p := range s.topics {
		follow[p] = true
	}
	// The newest certificate of each node of the provinces followed.
	certs := map[peer.ID]*crypto.Certificate{}
	for _, c := range t.Bundle().Certs {
		if c.PeerID == "" || !follow[c.Code.Province()] || (!c.HasRole(crypto.RoleCourt) && !c.HasRole(crypto.RoleOperator)) {
			continue
		}
		if prev, ok := certs[c.PeerID]; !ok || prev.NotBefore.Before(c.NotBefore) {
			certs[c.PeerID] = c
		}
	}
	ids := make(map[peer.ID]bool, len(certs)+len(s.peers))
	for p := range certs {
		ids[p] = true
	}
	for p := range s.peers {
		ids[p] = true
	}
	out := make([]api.CourtHealth, 0, len(ids))
	for p := range ids {
		ch := api.CourtHealth{PeerID: p.String(), Flags: []string{}}
		var serial uint64
		if c := certs[p]; c != nil {
			ch.Court, ch.Name, serial = string(c.Code), c.Name, c.Serial
		}
		ph := s.peers[p]
		if ph != nil && ch.Court == "" {
			ch.Court, serial = string(ph.court), ph.serial
			if c, err := t.BySerial(ph.serial, now); err == nil {
				ch.Name = c.Name
			}
		}
		revoked := false
		if _, err := t.BySerial(serial, now); err != nil {
			if !errors.Is(err, crypto.ErrRevoked) && ph == nil {
				continue // expired or withdrawn, never heard: not part of the mesh
			}
			revoked = errors.Is(err, crypto.ErrRevoked)
		}
		ch.Province = string(court.CourtCode(ch.Court).Province())
		every := s.every
		if ph != nil {
			hb := ph.hb
			// The sender's interval, but no node stays "online" for longer
			// than three of ours or of maxClaimedInterval by claiming a
			// long one.
			every = min(time.Duration(hb.GetIntervalMs())*time.Millisecond, max(s.every, maxClaimedInterval))
			ch.LastHeartbeat = ph.received.UTC()
			ch.Online = now.Sub(ph.received) <= 3*every
			ch.Version, ch.UptimeSeconds, ch.Peers = hb.GetSoftwareVersion(), hb.GetUptimeSeconds(), int(hb.GetPeers())
			ch.BundleSequence, ch.AuditLength = hb.GetBundleSequence(), hb.GetAuditLength()
			ch.AuditHead = hex.EncodeToString(hb.GetAuditHead())
			if len(hb.GetTransferStates()) > 0 {
				ch.TransferStates = make(map[string]int, len(hb.GetTransferStates()))
				for k, v := range hb.GetTransferStates() {
					ch.TransferStates[k] = int(v)
				}
			}
			if ph.audit != "" {
				ch.Flags = append(ch.Flags, ph.audit)
			}
			if ch.BundleSequence < ours {
				ch.Flags = append(ch.Flags, "bundle_behind")
			}
			ch.ClockOffsetMs = ph.offset.Milliseconds()
			if !ph.skewSince.IsZero() && p != s.d.Host.ID() {
				ch.Flags = append(ch.Flags, "clock_skew")
			}
		}
		if revoked {
			ch.Flags = append(ch.Flags, "revoked")
			ch.Online = false
		}
		// Silent: heard before and not for three intervals, or never heard
		// although this node has listened for three intervals.
		if !ch.Online && !revoked && (ph != nil || (!s.started.IsZero() && now.Sub(s.started) > 3*every)) {
			ch.Flags = append(ch.Flags, "silent")
		}
		out = append(out, ch)
	}
	slices.SortFunc(out, func(a, b api.CourtHealth) int {
		return cmpStrings(a.Province, b.Province, a.Court, b.Court, a.PeerID, b.PeerID)
	})
	return out
}

// cmpStrings compares pairs in turn: a1 with b1, then a2 with b2, ...
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// auditProblem returns the audit inconsistency witnessed for a peer.
func (s *Service) auditProblem(p peer.ID) (kind, detail string, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ph := s.peers[p]; ph != nil {
		return ph.audit, ph.auditDetail, ph.auditSince
	}
	return "", "", time.Time{}
}

// skewProblem returns how far a peer's clock is off and since when, as
// its heartbeats show (since is zero within the tolerance).
func (s *Service) skewProblem(p peer.ID) (offset time.Duration, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ph := s.peers[p]; ph != nil {
		return ph.offset, ph.skewSince
	}
	return 0, time.Time{}
}

// Clock compares this node's clock with its peers': the offsets of the
// newest heartbeats of the peers still online (this node's own excluded),
// negated, so that a positive offset means this node is ahead. The clock
// is "ahead" or "behind" when more than half of those peers disagree with
// it beyond the tolerance, the same way; the offset is the median. One
// peer with a wrong clock thus never makes a node doubt its own.
func (s *Service) Clock() api.ClockCheck {
	now := s.now()
	s.mu.Lock()
	offsets := make([]time.Duration, 0, len(s.peers))
	for p, ph := range s.peers {
		if p == s.d.Host.ID() || ph.hb == nil {
			continue
		}
		every := min(time.Duration(ph.hb.GetIntervalMs())*time.Millisecond, max(s.every, maxClaimedInterval))
		if now.Sub(ph.received) > 3*every {
			continue // silent: its last date says little about now
		}
		offsets = append(offsets, -ph.offset)
	}
	s.mu.Unlock()
	tol := s.d.SkewTolerance
	c := api.ClockCheck{State: "unknown", Peers: len(offsets), ToleranceMs: tol.Milliseconds()}
	if len(offsets) < minClockWitnesses {
		// Too few witnesses: with one or two, a single peer with a wrong
		// clock would make this node doubt a right one.
		return c
	}
	slices.Sort(offsets)
	med := offsets[len(offsets)/2]
	if len(offsets)%2 == 0 {
		med = offsets[len(offsets)/2-1]/2 + offsets[len(offsets)/2]/2
	}
	c.OffsetMs = med.Milliseconds()
	ahead, behind := 0, 0
	for _, o := range offsets {
		switch {
		case o > tol:
			ahead++
		case o < -tol:
			behind++
		}
	}
	switch {
	case 2*ahead > len(offsets):
		c.State = "ahead"
	case 2*behind > len(offsets):
		c.State = "behind"
	default:
		c.State = "ok"
	}
	return c
}

// minClockWitnesses is how many online peers' heartbeats a node needs
// before it judges its own clock.
const minClockWitnesses = 3

// fmtOffset writes an offset as "24h0m0s ahead" or "3m0s behind".
func fmtOffset(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		return (-d).String() + " behind"
	}
	return d.String() + " ahead"
}

// fmtOffsetZh writes an offset in Chinese: "快 24h0m0s" or "慢 3m0s".
func fmtOffsetZh(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		return "慢 " + (-d).String()
	}
	return "快 " + d.String()
}
