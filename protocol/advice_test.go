package protocol_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// TestOfferRegionSummary: the region summary (TransferOffer fields 30-39)
// and the advice a decision notes (fields 20-21) are validated like
// every other field, and reach the transfer's state.
func TestOfferRegionSummary(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	at := fixNow.Add(-time.Minute)
	good := func() *pb.Record {
		r := offerBody()
		o := r.GetOffer()
		o.RegionAssets = []*pb.RegionAssets{
			{Region: "110108", AssetClass: "real_estate", Count: 1, ValueBand: uint32(court.BandUnder10M)},
			{Region: "110100", AssetClass: "deposit", Count: 3},
		}
		o.DebtorRegion = "110105"
		return r
	}
	raw := seal(t, f.as(t, "京0105"), 1, at, testID, good())
	r, err := protocol.DecodeRecord(raw, f.trust, fixNow)
	if err != nil {
		t.Fatalf("a valid summary is refused: %v", err)
	}
	tr, err := protocol.Apply(nil, r, f.trust, protocol.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.DebtorRegion != "110105" || len(tr.RegionAssets) != 2 || tr.RegionAssets[0].Band != court.BandUnder10M || tr.RegionAssets[1].Region != "110100" {
		t.Errorf("the transfer holds %+v / %s", tr.RegionAssets, tr.DebtorRegion)
	}

	bad := []struct {
		name string
		mod  func(o *pb.TransferOffer)
	}{
		{"region not a code", func(o *pb.TransferOffer) { o.RegionAssets[0].Region = "北京市朝阳区" }},
		{"region not normal", func(o *pb.TransferOffer) { o.RegionAssets[0].Region = " 110108" }},
		{"region of no province", func(o *pb.TransferOffer) { o.RegionAssets[0].Region = "990108" }},
		{"unknown class", func(o *pb.TransferOffer) { o.RegionAssets[0].AssetClass = "gold" }},
		{"count zero", func(o *pb.TransferOffer) { o.RegionAssets[0].Count = 0 }},
		{"unknown band", func(o *pb.TransferOffer) { o.RegionAssets[0].ValueBand = 5 }},
		{"twice", func(o *pb.TransferOffer) {
			o.RegionAssets[1].Region, o.RegionAssets[1].AssetClass = "110108", "real_estate"
		}},
		{"too many", func(o *pb.TransferOffer) {
			o.RegionAssets = nil
			for i := range protocol.MaxRegionAssets + 1 {
				o.RegionAssets = append(o.RegionAssets, &pb.RegionAssets{Region: fmt.Sprintf("11%02d%02d", 1+i/50, 1+i%50), AssetClass: "deposit", Count: 1})
			}
		}},
		{"debtor region an address", func(o *pb.TransferOffer) { o.DebtorRegion = "北京市朝阳区某路1号" }},
	}
	for i, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.mod(b.GetOffer())
			raw := seal(t, f.as(t, "京0105"), uint64(i+2), at, testID, b)
			if _, err := protocol.DecodeRecord(raw, f.trust, fixNow); !errors.Is(err, court.ErrInvalid) {
				t.Errorf("DecodeRecord = %v, want ErrInvalid", err)
			}
		})
	}

	for _, tc := range []struct {
		name string
		rank uint32
		hash []byte
		ok   bool
	}{
		{"none", 0, nil, true},
		{"rank and hash", 3, make32(7), true},
		{"not listed", 0, make32(7), true},
		{"rank without hash", 2, nil, false},
		{"short hash", 1, []byte{1, 2, 3}, false},
	} {
		t.Run("decision/"+tc.name, func(t *testing.T) {
			b := decisionBody(pb.Mode_MODE_DESIGNATED, "京0108", "")
			b.GetDecision().RecommendedRank, b.GetDecision().RecommendationHash = tc.rank, tc.hash
			raw := seal(t, f.as(t, "京01"), 1, at, testID, b)
			_, err := protocol.DecodeRecord(raw, f.trust, fixNow)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, court.ErrInvalid)) {
				t.Errorf("DecodeRecord = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
