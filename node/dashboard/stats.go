package dashboard

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// The statistics a transfer contributes (Contribution), as the store
// sums them per scope. Durations are in seconds, amounts in fen; the
// per-court ones are statRcv + receiver + "/" + one of the rcv* names.
const (
	// StatsVersion names the definition below; bump it whenever
	// Contribution changes, so that every node recomputes its sums.
	StatsVersion = "dashboard-10" // 10: a closure by 终结, 不予执行 or 驳回 counts as closed, not as 执行完毕 (ClosedAs), and as "ended" in the trends; 9: the load per receiver and month (loadm/, loadn/) and the superiors (sup/) for reading one superior's trends; 8: never released; 7: the resumption rate's sum, the check-back candidates (cbk/)

	statMode       = "mode/"                // + mode: decided transfers of that mode
	statClosure    = "closure/"             // + closure kind: closed transfers closed so
	statAccN       = "acc/n"                // decided and accepted
	statAccSec     = "acc/sec"              // their decision-to-acceptance time
	statRcptN      = "rcpt/n"               // decided and received
	statRcptSec    = "rcpt/sec"             // their decision-to-receipt time
	statRcv        = "rcv/"                 // + receiver + "/" + field
	rcvDesignated  = "designated"           // CourtIndicators.Designated
	rcvAccepted    = "accepted"             // .Accepted
	rcvInTime      = "in_time"              // .AcceptedInTime
	rcvReceived    = "received"             // .Received
	rcvConcluded   = "concluded"            // .Concluded
	rcvRecovered   = "recovered"            // .RecoveredFen
	rcvOrigin      = "origin"               // .OriginFen
	rcvClaimed     = "claimed"              // .ClaimedFen, receipt confirmed
	rcvLapsed      = "lapsed"               // .MeasuresLapsed, receipt confirmed
	rcvLapseFrom   = "lapse_from/"          // + date: in flight; counted in .MeasuresLapsed from that day on
	rcvOpen        = "open"                 // .Open: accepted, not yet closed (nor withdrawn)
	rcvConc6m      = "concluded_6m"         // .Concluded6m
	rcvSanctLapsed = "sanctions_lapsed"     // .SanctionsLapsed: re-issued late
	rcvSanctFrom   = "sanction_lapse_from/" // + date: not re-issued; counted in .SanctionsLapsed from that day on
	secondsPerDay  = 24 * 3600
)

// StatsKey names the statistics definition for a node whose handover
// guard is guardDays (the lapse indicator depends on it): the store
// recomputes its sums when it changes (storage.EnsureTransferStats).
func StatsKey(guardDays int) string {
	return StatsVersion + "/guard-" + strconv.Itoa(guardDays)
}

// Contribution is what transfer t adds to the dashboard's statistics of
// every scope it is in: counts, durations in seconds and amounts in fen,
// never negative, none depending on today. Whether a measure lapsed
// while a dossier is still between the courts does depend on today, but
// only through the day from which it counts (LapseFrom): Contribution
// names that day, and Compute counts the days on or before today.
func Contribution(t *cmproto.Transfer, guardDays int) map[string]int64 {
	s := map[string]int64{}
	if t.Mode != "" {
		s[statMode+t.Mode]++
	}
	if t.ClosureKind != "" {
		s[statClosure+string(t.ClosureKind)]++
	}
	if !t.DecidedAt.IsZero() {
		if !t.AcceptedAt.IsZero() {
			s[statAccN]++
			s[statAccSec] += seconds(t.AcceptedAt.Sub(t.DecidedAt))
		}
		if !t.ReceivedAt.IsZero() {
			s[statRcptN]++
			s[statRcptSec] += seconds(t.ReceivedAt.Sub(t.DecidedAt))
		}
	}
	if t.Receiver != "" {
		p := statRcv + string(t.Receiver) + "/"
		s[p+rcvDesignated]++
		if !t.AcceptedAt.IsZero() {
			s[p+rcvAccepted]++
			if AcceptedInTime(t) {
				s[p+rcvInTime]++
			}
			s[p+rcvRecovered] += max(0, Recovered(t))
			s[p+rcvOrigin] += max(0, t.AmountOrigin, t.HandoverRecovered)
			switch t.State {
			case cmproto.StateAccepted, cmproto.StateHandedOver, cmproto.StateReceived:
				s[p+rcvOpen]++
			}
		}
		if !t.ReceivedAt.IsZero() {
			s[p+rcvReceived]++
			// The balance the receiver filed with (older handovers state
			// none: the offer's outstanding amount).
			s[p+rcvClaimed] += max(0, cmp.Or(t.BalanceFen, t.AmountOutstanding))
			if LapsedDuringHandover(t, t.ReceivedAt, guardDays) {
				s[p+rcvLapsed]++
			}
		}
		if inFlight(t) {
			s[p+rcvLapseFrom+LapseFrom(t, guardDays).String()]++
		}
		if t.State == cmproto.StateClosed {
			s[p+rcvConcluded]++
			if ConcludedWithin6Months(t) {
				s[p+rcvConc6m]++
			}
		}
		for _, x := range t.Sanctions {
			by, err := court.ParseDate(x.ReissueBy)
			if err != nil {
				continue
			}
			switch on, err := court.ParseDate(x.ReissuedOn); {
			case err == nil && on.After(by):
				s[p+rcvSanctLapsed]++
			case err != nil:
				s[p+rcvSanctFrom+by.AddDate(0, 0, 1).String()]++
			}
		}
	}
	addIndicators(s, t)
	for _, d := range t.Directives {
		if d.ReportedAt.IsZero() {
			s[statDirTo+string(d.Court)+"/"+d.Due]++
			s[statDirBy+string(d.Issuer)+"/"+d.Due]++
		}
	}
	if cmproto.CheckBackCandidate(t) && cmproto.CheckBackOf(t, cmproto.CheckBackRule{}).Reviewed == nil {
		s[statCheckBack+string(t.Origin)+"/"+string(t.ID)]++
	}
	trendContribution(t, s)
	for k, v := range s {
		if v == 0 {
			delete(s, k)
		}
	}
	return s
}

// Recovered is what transfer t shows recovered since the handover: the
// money its funds ledger received from outside the courts (a forward
// between them is not counted again). A transfer without a ledger entry
// (from builds before the ledger, or no money yet) shows the receiver's
// last progress or closure report.
func Recovered(t *cmproto.Transfer) int64 {
	if t.Ledger != nil {
		return t.Ledger.RecoveredFen
	}
	return t.AmountRecovered
}

// The unanswered directives (督办) of a transfer, by the day they are
// due: statDirTo + directed court + "/" + due, statDirBy + issuing court
// + "/" + due. A directive is overdue from the day after; OverdueDirectives
// counts them from the sums without reading a transfer.
const (
	statDirTo = "dir/to/"
	statDirBy = "dir/by/"
)

// DirectivePrefixes are the statistic name prefixes OverdueDirectives
// reads for court c, so that a caller reads only those sums.
func DirectivePrefixes(c court.CourtCode) []string {
	return []string{statDirTo + string(c) + "/", statDirBy + string(c) + "/"}
}

// OverdueDirectives counts, in sums (the mesh scope's), the unanswered
// directives to court c and those c issued that were due before today.
func OverdueDirectives(sums map[string]int64, c court.CourtCode, today court.Date) (to, by int64) {
	for k, v := range sums {
		var rest string
		var n *int64
		switch {
		case strings.HasPrefix(k, statDirTo+string(c)+"/"):
			rest, n = k[len(statDirTo+string(c)+"/"):], &to
		case strings.HasPrefix(k, statDirBy+string(c)+"/"):
			rest, n = k[len(statDirBy+string(c)+"/"):], &by
		default:
			continue
		}
		if due, err := court.ParseDate(rest); err == nil && due.Before(today) {
			*n += v
		}
	}
	return to, by
}

// The transfers a check back on the origin (倒查) might flag and no
// superior has reviewed for it yet, by origin: statCheckBack + origin +
// "/" + transfer ID (protocol.CheckBackCandidate). Few: a receiver's
// report on the origin, or a case held long and concluded fast; a
// review takes it out.
const statCheckBack = "cbk/"

// CheckBackPrefix is the prefix of the check-back candidates of origin
// c ("" for every origin).
func CheckBackPrefix(c court.CourtCode) string {
	if c == "" {
		return statCheckBack
	}
	return statCheckBack + string(c) + "/"
}

// CheckBackCandidates lists the candidates in sums (read by
// CheckBackPrefix), by origin.
func CheckBackCandidates(sums map[string]int64) map[court.CourtCode][]court.TransferID {
	out := map[court.CourtCode][]court.TransferID{}
	for k, v := range sums {
		rest, ok := strings.CutPrefix(k, statCheckBack)
		if !ok || v <= 0 {
			continue
		}
		if o, id, ok := strings.Cut(rest, "/"); ok {
			out[court.CourtCode(o)] = append(out[court.CourtCode(o)], court.TransferID(id))
		}
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out
}

// Stats is the statistics definition a node whose handover guard is
// guardDays keeps in its store: Contribution of the stored transfer
// (the protocol JSON body), for storage.EnsureTransferStats under
// StatsKey(guardDays).
func Stats(guardDays int) func(body []byte) (map[string]int64, error) {
	return func(body []byte) (map[string]int64, error) {
		var t cmproto.Transfer
		if err := json.Unmarshal(body, &t); err != nil {
			return nil, court.Errorf(court.ErrCorrupt, "stored transfer does not decode: %v", err)
		}
		return Contribution(&t, guardDays), nil
	}
}

func seconds(d time.Duration) int64 { return max(0, int64(d/time.Second)) }

// inFlight reports whether t's dossier is between the courts: handed
// over, its receipt not confirmed.
func inFlight(t *cmproto.Transfer) bool {
	return !t.HandedOverAt.IsZero() && t.ReceivedAt.IsZero()
}
