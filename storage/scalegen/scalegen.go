// Package scalegen fills a store with many synthetic transfers among
// 3,500 courts, for the scale benchmarks (storage BenchmarkScaleStorage,
// node's Scale benchmarks). The data is deterministic: transfer i is the
// same in every run and at every size, so a benchmark can name a case
// number it knows is stored.
//
// # Courts
//
// Courts returns 3,500 valid court codes: 最高法, the 33 high courts (every
// province abbreviation), 400 intermediate courts (12 or 13 per province,
// 京01..京13) and 3,066 basic courts (7 or 8 under each intermediate
// court, 京0101..京0108), as court/code.go and DOMAIN.md define them.
//
// # Transfers
//
// About 85% are terminal (80% closed, 3% rejected, 2% withdrawn), the
// rest in flight: 8% received, 2% handed over, 1.5% accepted, 2% decided
// (about 40% of them past their acceptance deadline at Now) and 1.5%
// offered. A transfer goes from a basic court (90%) or an intermediate
// court to a court under the same superior, or to the superior itself.
//
// # Cache
//
// Generating 300,000 transfers takes a minute or two, so Cached keeps each
// generated data directory in the cache folder: $COURTMESH_SCALE_CACHE if
// set, else os.UserCacheDir()/courtmesh-scale, one directory per size,
// generator version and layout of the store's files
// (v<Version>-n<N>-l<hash of storage.BadgerOptions' table, block and
// level sizes>). Prepare copies it to a directory of the caller's, so the
// cached copy stays pristine. Delete the folder to regenerate; bumping
// Version, or changing those Badger options, does so for every user.
package scalegen

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/storage"
)

// Version is the generator's version: part of the cache key, bumped
// whenever the generated data changes.
const Version = 4

// Now is the instant the generated data is as of: in-flight transfers
// were offered shortly before it, and overdue means overdue at Now.
var Now = time.Date(2025, 6, 30, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))

// seed makes the data the same in every run.
const seed = 0x636f7572746d6573 // "courtmes"

// Courts returns the 3,500 courts of the synthetic mesh, highest first.
func Courts() []court.CourtCode {
	provinces := []rune("京津冀晋内辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川黔云藏陕甘青宁新军兵")
	out := []court.CourtCode{court.Supreme}
	for _, p := range provinces {
		out = append(out, court.CourtCode(string(p)))
	}
	var mids []court.CourtCode
	for i, p := range provinces {
		n := 12
		if i < 400-12*len(provinces) {
			n = 13
		}
		for m := 1; m <= n; m++ {
			mids = append(mids, court.CourtCode(fmt.Sprintf("%c%02d", p, m)))
		}
	}
	out = append(out, mids...)
	for i, m := range mids {
		n := 7
		if i < 3066-7*len(mids) {
			n = 8
		}
		for b := 1; b <= n; b++ {
			out = append(out, court.CourtCode(fmt.Sprintf("%s%02d", m, b)))
		}
	}
	return out
}

// mesh is the court tree the generator picks from.
type mesh struct {
	mids   []court.CourtCode                     // intermediate courts
	basics []court.CourtCode                     // basic courts
	under  map[court.CourtCode][]court.CourtCode // superior -> its courts one level down
	sup    map[court.CourtCode]court.CourtCode   // court -> its superior
}

func newMesh() *mesh {
	m := &mesh{under: map[court.CourtCode][]court.CourtCode{}, sup: map[court.CourtCode]court.CourtCode{}}
	for _, c := range Courts() {
		switch c.Level() {
		case court.LevelIntermediate:
			m.mids = append(m.mids, c)
		case court.LevelBasic:
			m.basics = append(m.basics, c)
		default:
			continue
		}
		s, ok := c.DerivedParent()
		if !ok {
			continue
		}
		m.sup[c] = s
		m.under[s] = append(m.under[s], c)
	}
	return m
}

// The state mix, in thousandths.
var mix = []struct {
	state string
	per   int
}{
	{"closed", 800}, {"rejected", 30}, {"withdrawn", 20}, {"received", 80},
	{"handed_over", 20}, {"accepted", 15}, {"decided", 20}, {"offered", 15},
}

// body mirrors the JSON of protocol.Transfer (the fields a node shows).
type body struct {
	ID                string    `json:"id"`
	State             string    `json:"state"`
	CaseNumber        string    `json:"case_number"`
	Origin            string    `json:"origin"`
	Superior          string    `json:"superior"`
	Grounds           []string  `json:"grounds"`
	AmountOutstanding int64     `json:"amount_outstanding_fen"`
	AmountOrigin      int64     `json:"amount_recovered_by_origin_fen"`
	EarliestExpiry    string    `json:"earliest_measure_expiry,omitempty"`
	Decider           string    `json:"decider,omitempty"`
	Mode              string    `json:"mode,omitempty"`
	Receiver          string    `json:"receiver,omitempty"`
	DecisionNumber    string    `json:"decision_number,omitempty"`
	AcceptBy          string    `json:"accept_by,omitempty"`
	NewCaseNumber     string    `json:"new_case_number,omitempty"`
	AmountRecovered   int64     `json:"amount_recovered_fen"`
	Outcome           string    `json:"outcome,omitempty"`
	AssetUpdates      int       `json:"asset_updates"`
	Reason            string    `json:"reason,omitempty"`
	OfferedAt         time.Time `json:"offered_at"`
	DecidedAt         time.Time `json:"decided_at,omitzero"`
	AcceptedAt        time.Time `json:"accepted_at,omitzero"`
	HandedOverAt      time.Time `json:"handed_over_at,omitzero"`
	ReceivedAt        time.Time `json:"received_at,omitzero"`
	ClosedAt          time.Time `json:"closed_at,omitzero"`
	Records           []ref     `json:"records"`
}

type ref struct {
	Kind     string    `json:"kind"`
	Issuer   string    `json:"issuer"`
	Hash     string    `json:"hash"`
	IssuedAt time.Time `json:"issued_at"`
}

// Generator builds transfer i of the synthetic data.
type Generator struct{ m *mesh }

// NewGenerator returns a generator over the courts of Courts.
func NewGenerator() *Generator { return &Generator{m: newMesh()} }

// Transfer returns transfer i (0-based): the same for every size and run.
func (g *Generator) Transfer(i int) storage.TransferRecord {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	var id [16]byte
	for k := range id {
		id[k] = byte(rng.UintN(256))
	}
	roll, state := rng.IntN(1000), "closed"
	for _, s := range mix {
		if roll < s.per {
			state = s.state
			break
		}
		roll -= s.per
	}
	var origin court.CourtCode
	if rng.IntN(10) == 0 {
		origin = g.m.mids[rng.IntN(len(g.m.mids))]
	} else {
		origin = g.m.basics[rng.IntN(len(g.m.basics))]
	}
	superior := g.m.sup[origin]
	receiver, mode := superior, "elevated"
	if peers := g.m.under[superior]; rng.IntN(5) != 0 && len(peers) > 1 {
		for receiver == superior || receiver == origin {
			receiver = peers[rng.IntN(len(peers))]
		}
		mode = "designated"
	}
	inFlight := map[string]bool{"offered": true, "decided": true, "accepted": true, "handed_over": true, "received": true}[state]
	var offered time.Time
	if inFlight && state != "received" {
		offered = Now.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second)
	} else {
		offered = Now.Add(-time.Duration(rng.IntN(450*24*3600)) * time.Second)
	}
	offered = offered.UTC().Truncate(time.Second)
	b := body{
		ID: hex.EncodeToString(id[:]), State: state, Origin: string(origin), Superior: string(superior),
		CaseNumber:        fmt.Sprintf("（%d）%s执%d号", offered.Year()-rng.IntN(2), origin, i+1),
		Grounds:           []string{"被执行人在受移送法院辖区内有可供执行的财产"},
		AmountOutstanding: int64(rng.IntN(50_000_000)+10_000) * 100,
		EarliestExpiry:    court.DateOf(offered).AddDate(1, 0, rng.IntN(300)).String(),
		OfferedAt:         offered,
	}
	hash := func(k int) string { return fmt.Sprintf("%016x%04x", rng.Uint64(), k) }
	b.Records = append(b.Records, ref{"offer", string(origin), hash(0), offered})
	r := storage.TransferRecord{ID: b.ID, State: state, Origin: origin, Decider: superior,
		CaseNumber: court.MustParseCaseNumber(b.CaseNumber), Offered: offered, Updated: offered}
	at := offered
	step := func(maxHours int) time.Time {
		at = at.Add(time.Duration(1+rng.IntN(maxHours*3600)) * time.Second)
		if inFlight && at.After(Now) {
			at = Now.Add(-time.Duration(rng.IntN(3600)) * time.Second).UTC().Truncate(time.Second)
		}
		r.Updated = at
		return at
	}
	switch state {
	case "offered", "withdrawn":
		if state == "withdrawn" {
			b.Reason = "申请执行人与被执行人达成和解"
			b.Records = append(b.Records, ref{"withdrawal", string(origin), hash(1), step(200)})
		}
		b.Decider = ""
		r.Decider = superior
		return g.finish(r, b)
	}
	b.Decider, b.Mode, b.Receiver = string(superior), mode, string(receiver)
	b.DecisionNumber = fmt.Sprintf("（%d）%s执他%d号", offered.Year(), superior, i+1)
	if state == "decided" {
		// Decided in the last 12 days: those decided more than 7 days
		// ago are overdue.
		at = Now.Add(-time.Duration(rng.IntN(12*24*3600)) * time.Second).UTC().Truncate(time.Second)
		if at.Before(offered) {
			at = offered
		}
		r.Updated = at
	} else {
		step(120)
	}
	b.DecidedAt = at
	acceptBy := court.DateOf(at).AddDate(0, 0, 7)
	b.AcceptBy = acceptBy.String()
	b.Records = append(b.Records, ref{"decision", string(superior), hash(1), at})
	r.Receiver = receiver
	switch state {
	case "decided":
		r.Deadline = acceptBy
		return g.finish(r, b)
	case "rejected":
		b.Reason = "受移送法院认为不符合移送条件"
		b.Records = append(b.Records, ref{"rejection", string(receiver), hash(2), step(100)})
		return g.finish(r, b)
	}
	b.AcceptedAt = step(100)
	b.NewCaseNumber = fmt.Sprintf("（%d）%s执%d号", at.Year(), receiver, i+1)
	r.NewCaseNumber = court.MustParseCaseNumber(b.NewCaseNumber)
	b.Records = append(b.Records, ref{"acceptance", string(receiver), hash(2), at})
	if state == "accepted" {
		return g.finish(r, b)
	}
	b.HandedOverAt = step(48)
	b.Records = append(b.Records, ref{"handover", string(origin), hash(3), at})
	if state == "handed_over" {
		return g.finish(r, b)
	}
	b.ReceivedAt = step(24)
	b.Records = append(b.Records, ref{"receipt", string(receiver), hash(4), at})
	for k := range rng.IntN(4) {
		b.AmountRecovered += int64(rng.IntN(1_000_000)) * 100
		b.Records = append(b.Records, ref{"progress", string(receiver), hash(5 + k), step(24 * 30)})
	}
	if state == "closed" {
		b.Outcome = "执行完毕"
		b.ClosedAt = step(24 * 60)
		b.Records = append(b.Records, ref{"closure", string(receiver), hash(9), at})
	}
	return g.finish(r, b)
}

func (g *Generator) finish(r storage.TransferRecord, b body) storage.TransferRecord {
	r.Terminal = r.State == "closed" || r.State == "rejected" || r.State == "withdrawn"
	var err error
	r.Body, err = json.Marshal(b)
	if err != nil {
		panic(err) // a struct of strings, numbers and times always encodes
	}
	return r
}

// Fill adds transfers 0..n-1 to db through storage's bulk loader (the
// same index and counter keys as Apply), and returns how many it wrote in
// each state.
func Fill(ctx context.Context, db *storage.DB, n int) (map[string]int, error) {
	g := NewGenerator()
	counts := map[string]int{}
	const batch = 20_000
	for start := 0; start < n; start += batch {
		l := db.NewTransferLoader()
		for i := start; i < min(n, start+batch); i++ {
			if err := ctx.Err(); err != nil {
				l.Close()
				return counts, err
			}
			r := g.Transfer(i)
			if err := l.Add(r); err != nil {
				l.Close()
				return counts, fmt.Errorf("synthetic transfer %d: %w", i, err)
			}
			counts[r.State]++
		}
		if err := l.Close(); err != nil {
			return counts, err
		}
	}
	return counts, nil
}
