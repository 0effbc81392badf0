package records

import "time"

// issueTime is the time to sign this node's next record with: now, or a
// millisecond after the last record it issued if that was in the same
// millisecond or up to a second later (two actions in one millisecond,
// as a script makes them, or the clock stepped back a little). A
// record's time is kept to the millisecond and the state machine keeps
// the newer of two reports by their signed times, so of two reports
// signed in the same millisecond the second changed nothing. A clock set
// back further is not bridged: records dated ahead of the mesh's clocks
// would be held by every peer. Call with s.mu held.
func (s *Service) issueTime(now time.Time) time.Time {
	at := now.Truncate(time.Millisecond)
	if !at.After(s.lastIssued) && s.lastIssued.Sub(at) < time.Second {
		at = s.lastIssued.Add(time.Millisecond)
	}
	s.lastIssued = at
	return at
}
