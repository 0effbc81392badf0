package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// KindReview is a superior court's review of a transfer (after a spot
// check, 抽查, or a check back on the origin, 倒查).
const KindReview Kind = "review"

// Findings of a review.
var reviewFindings = []string{"in_order", "no_fault", "negligence", "interference", "other"}

// Review is a review as every node holds it on the transfer.
type Review struct {
	Hash     string          `json:"hash"`
	Issuer   court.CourtCode `json:"issuer"`
	Finding  string          `json:"finding"`
	Note     string          `json:"note,omitempty"`
	IssuedAt time.Time       `json:"issued_at"`
	// SpotCheck is the draw's ID (SpotCheckID) when the review follows a
	// spot check, and Draw the draw itself.
	SpotCheck string `json:"spot_check,omitempty"`
	Draw      *Draw  `json:"draw,omitempty"`
	// CheckBack marks a check back on the origin (倒查).
	CheckBack bool `json:"check_back,omitempty"`
}

// Draw is a spot check's draw (pb.SpotCheckDraw) as the transfer keeps it.
type Draw struct {
	Scope          court.CourtCode `json:"scope"`
	OfferedFrom    time.Time       `json:"offered_from"`
	OfferedTo      time.Time       `json:"offered_to"`
	SeedSeq        uint64          `json:"seed_seq"`
	SeedHead       []byte          `json:"seed_head"`
	Population     uint32          `json:"population"`
	PopulationHash []byte          `json:"population_hash"`
	Sample         uint32          `json:"sample"`
}

// Proto is the draw as records carry it.
func (d *Draw) Proto() *pb.SpotCheckDraw {
	return &pb.SpotCheckDraw{Scope: string(d.Scope), OfferedFrom: d.OfferedFrom.UnixMilli(), OfferedTo: d.OfferedTo.UnixMilli(),
		SeedSeq: d.SeedSeq, SeedHead: d.SeedHead, Population: d.Population, PopulationHash: d.PopulationHash, Sample: d.Sample}
}

// DrawFromProto converts a record's draw.
func DrawFromProto(p *pb.SpotCheckDraw) *Draw {
	return &Draw{Scope: court.CourtCode(p.GetScope()), OfferedFrom: time.UnixMilli(p.GetOfferedFrom()).UTC(), OfferedTo: time.UnixMilli(p.GetOfferedTo()).UTC(),
		SeedSeq: p.GetSeedSeq(), SeedHead: p.GetSeedHead(), Population: p.GetPopulation(), PopulationHash: p.GetPopulationHash(), Sample: p.GetSample()}
}

// PopulationHash is the hash a draw names its population by: SHA-256 of
// the IDs, sorted, each followed by a newline.
func PopulationHash(ids []court.TransferID) [32]byte {
	s := slices.Clone(ids)
	slices.Sort(s)
	h := sha256.New()
	for _, id := range s {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return [32]byte(h.Sum(nil))
}

// drawKey is a transfer's place in a draw seeded by (seq, head).
func drawKey(seq uint64, head []byte, id court.TransferID) [32]byte {
	h := sha256.New()
	h.Write([]byte("courtmesh/spot-check/v1"))
	h.Write(head)
	h.Write(binary.BigEndian.AppendUint64(nil, seq))
	h.Write([]byte(id))
	return [32]byte(h.Sum(nil))
}

// DrawSample returns the n transfers of population a spot check seeded by
// the drawer's record log position (seq, head) draws: those with the
// smallest SHA-256("courtmesh/spot-check/v1" || head || seq as 8 bytes
// big-endian || id), in that order. Nobody chooses them: the head is fixed
// by the records the drawer had signed, and witnessed, before the draw.
func DrawSample(seq uint64, head []byte, population []court.TransferID, n int) []court.TransferID {
	type kv struct {
		k  [32]byte
		id court.TransferID
	}
	ks := make([]kv, 0, len(population))
	for _, id := range population {
		ks = append(ks, kv{drawKey(seq, head, id), id})
	}
	slices.SortFunc(ks, func(a, b kv) int { return bytes.Compare(a.k[:], b.k[:]) })
	out := make([]court.TransferID, 0, min(n, len(ks)))
	for _, x := range ks[:min(n, len(ks))] {
		out = append(out, x.id)
	}
	return out
}

// SpotCheckID names a draw: the hex SHA-256 of its deterministic
// encoding, the same for every review of one draw.
func SpotCheckID(d *pb.SpotCheckDraw) string {
	h := sha256.New()
	fmt.Fprintf(h, "courtmesh/spot-check-draw/v1\n%s\n%d\n%d\n%d\n%x\n%d\n%x\n%d\n", d.GetScope(), d.GetOfferedFrom(), d.GetOfferedTo(),
		d.GetSeedSeq(), d.GetSeedHead(), d.GetPopulation(), d.GetPopulationHash(), d.GetSample())
	return fmt.Sprintf("%x", h.Sum(nil))
}

// checkReview checks a review's body without state.
func checkReview(r *Record) error {
	v := r.PB.GetReview()
	if !slices.Contains(reviewFindings, v.GetFinding()) {
		return invalid("review finding %q: want one of %v", v.GetFinding(), reviewFindings)
	}
	if err := checkFree("note", v.GetNote(), 1000, false); err != nil {
		return err
	}
	if v.GetCheckBack() {
		if v.GetDraw() != nil {
			return invalid("a review is a spot check (draw) or a check back on the origin, not both")
		}
		if !slices.Contains(CheckBackFindings, v.GetFinding()) {
			return invalid("check-back finding %q: want one of %v", v.GetFinding(), CheckBackFindings)
		}
	}
	if d := v.GetDraw(); d != nil {
		if _, err := court.ParseCourtCode(d.GetScope()); err != nil {
			return invalid("spot check scope: %v", err)
		}
		switch {
		case d.GetOfferedFrom() >= d.GetOfferedTo():
			return invalid("spot check window is empty")
		case d.GetSeedSeq() == 0 || len(d.GetSeedHead()) != 32 || len(d.GetPopulationHash()) != 32:
			return invalid("spot check needs its seed (a log position and 32-byte head) and a 32-byte population hash")
		case d.GetSample() == 0 || d.GetSample() > d.GetPopulation():
			return invalid("spot check draws %d of %d", d.GetSample(), d.GetPopulation())
		}
	}
	return nil
}

// applyReview records a review on the transfer: its issuer is a superior
// of the transfer's origin or receiver; a spot check's scope is the
// issuer or under it, and the transfer concerns a court under the scope.
func applyReview(t *Transfer, n *Transfer, r *Record, h court.Hierarchy) error {
	v := r.PB.GetReview()
	if !court.IsSuperior(h, r.Issuer, t.Origin) && (t.Receiver == "" || !court.IsSuperior(h, r.Issuer, t.Receiver)) {
		return fmt.Errorf("review %s: %s is not a superior court of %s or %s: %w", r.Transfer, r.Issuer, t.Origin, t.Receiver, court.ErrInvalid)
	}
	rv := Review{Hash: r.HashHex(), Issuer: r.Issuer, Finding: v.GetFinding(), Note: v.GetNote(), IssuedAt: r.IssuedAt, CheckBack: v.GetCheckBack()}
	if rv.CheckBack && !court.IsSuperior(h, r.Issuer, t.Origin) {
		return fmt.Errorf("review %s: a check back on the origin is for a superior court of the origin %s, not %s: %w", r.Transfer, t.Origin, r.Issuer, court.ErrInvalid)
	}
	if d := v.GetDraw(); d != nil {
		scope := court.CourtCode(d.GetScope())
		if scope != r.Issuer && !court.IsSuperior(h, r.Issuer, scope) {
			return fmt.Errorf("review %s: spot check of %s by %s, which is not its superior: %w", r.Transfer, scope, r.Issuer, court.ErrInvalid)
		}
		in := false
		for _, c := range []court.CourtCode{t.Origin, t.Decider, t.Receiver} {
			if c != "" && (c == scope || court.IsSuperior(h, scope, c)) {
				in = true
			}
		}
		if !in {
			return fmt.Errorf("review %s: the transfer concerns no court under %s, the spot check's scope: %w", r.Transfer, scope, court.ErrInvalid)
		}
		if off := t.OfferedAt.UnixMilli(); off < d.GetOfferedFrom() || off >= d.GetOfferedTo() {
			return fmt.Errorf("review %s: offered outside the spot check's window: %w", r.Transfer, court.ErrInvalid)
		}
		rv.SpotCheck, rv.Draw = SpotCheckID(d), DrawFromProto(d)
	}
	if len(t.Reviews) >= MaxDirectives {
		return fmt.Errorf("review %s: the transfer already holds %d reviews: %w", r.Transfer, MaxDirectives, court.ErrConflict)
	}
	n.Reviews = append(slices.Clone(t.Reviews), rv)
	return nil
}
