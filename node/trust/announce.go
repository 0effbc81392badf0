package trust

import (
	"context"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// serveAnnounce announces the bundle in force when a peer joins the trust
// topic (so that a peer that was away catches up at once) or announces an
// older bundle, after a debounce, and every announceEvery in any case.
func (s *Service) serveAnnounce(ctx context.Context) error {
	const debounce, announceEvery = 100 * time.Millisecond, 10 * time.Minute
	ev, err := s.topic.EventHandler()
	if err != nil {
		return err
	}
	defer ev.Cancel()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			e, err := ev.NextPeerEvent(ctx)
			if err != nil {
				return
			}
			if e.Type == pubsub.PeerJoin {
				select {
				case s.joined <- e.Peer:
				default:
				}
			}
		}
	}()
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.joined:
		case <-t.C:
		}
		// Let a burst of joins settle, then announce once.
		timer := time.NewTimer(debounce)
	settle:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-s.joined:
			case <-timer.C:
				break settle
			}
		}
		if err := s.announce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("bundle announce failed", "reason", err)
		}
	}
}
