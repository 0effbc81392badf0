package protocol

import (
	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// MaxRegionAssets bounds the entries of an offer's region summary: one
// per region and asset class, far more than a case holds, and few enough
// that the offer stays a small gossip message.
const MaxRegionAssets = 64

// RegionAssets is one entry of an offer's region summary: how many
// assets of one class lie in one region, and the band of their total
// estimated value. It carries no name, identifier, address or value.
type RegionAssets struct {
	Region court.RegionCode `json:"region"`
	Class  court.AssetClass `json:"asset_class"`
	Count  uint32           `json:"count"`
	Band   court.ValueBand  `json:"value_band"`
}

// checkOfferSummary checks the region summary of an offer (fields 30-39):
// every region a valid division code, every class known, a count of at
// least one, a known band (or none), each region and class once, at most
// MaxRegionAssets entries, and the debtor's region a valid code if given.
func checkOfferSummary(o *pb.TransferOffer) error {
	if n := len(o.GetRegionAssets()); n > MaxRegionAssets {
		return invalid("region summary has %d entries, at most %d", n, MaxRegionAssets)
	}
	seen := map[[2]string]bool{}
	for i, ra := range o.GetRegionAssets() {
		r, err := court.ParseRegionCode(ra.GetRegion())
		if err != nil || string(r) != ra.GetRegion() {
			return invalid("region summary [%d]: region %q is not a 6-digit division code in normal form", i, ra.GetRegion())
		}
		cl, err := court.ParseAssetClass(ra.GetAssetClass())
		if err != nil || string(cl) != ra.GetAssetClass() {
			return invalid("region summary [%d]: asset class %q unknown", i, ra.GetAssetClass())
		}
		if ra.GetCount() == 0 {
			return invalid("region summary [%d]: count 0 (leave the entry out)", i)
		}
		if b := court.ValueBand(ra.GetValueBand()); b != court.BandNone && !b.Valid() {
			return invalid("region summary [%d]: value band %d unknown (0-%d)", i, ra.GetValueBand(), court.MaxValueBand)
		}
		k := [2]string{ra.GetRegion(), ra.GetAssetClass()}
		if seen[k] {
			return invalid("region summary: %s %s listed twice", k[0], k[1])
		}
		seen[k] = true
	}
	if d := o.GetDebtorRegion(); d != "" {
		if r, err := court.ParseRegionCode(d); err != nil || string(r) != d {
			return invalid("debtor region %q is not a 6-digit division code in normal form", d)
		}
	}
	return nil
}

// checkDecisionAdvice checks what a decision notes of the recommendation
// (fields 20 and on): a rank only with the recommendation's hash, and a
// hash of 32 bytes.
func checkDecisionAdvice(d *pb.TransferDecision) error {
	h := d.GetRecommendationHash()
	if len(h) != 0 && len(h) != 32 {
		return invalid("recommendation hash must be 32 bytes (or absent), not %d", len(h))
	}
	if len(h) == 0 && d.GetRecommendedRank() != 0 {
		return invalid("recommended rank %d without the recommendation's hash", d.GetRecommendedRank())
	}
	return nil
}

// regionSummary converts an offer's region summary to the transfer's.
func regionSummary(o *pb.TransferOffer) []RegionAssets {
	var out []RegionAssets
	for _, ra := range o.GetRegionAssets() {
		out = append(out, RegionAssets{Region: court.RegionCode(ra.GetRegion()), Class: court.AssetClass(ra.GetAssetClass()), Count: ra.GetCount(), Band: court.ValueBand(ra.GetValueBand())})
	}
	return out
}
