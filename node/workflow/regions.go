package workflow

import (
	"cmp"
	"slices"

	"courtmesh.dev/courtmesh/court"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// regionSummary is the offer's region summary of a case: per region and
// asset class, how many assets and the band of their total estimated
// value (assets without a region are left out), in region then class
// order; and the division code of the first respondent's domicile that
// is known. Nothing else of the assets or parties leaves the court.
func regionSummary(assets []court.Asset, parties []court.Party) ([]*pb.RegionAssets, string) {
	type key struct {
		r court.RegionCode
		c court.AssetClass
	}
	count := map[key]uint32{}
	value := map[key]int64{}
	for _, a := range assets {
		if a.Region == "" {
			continue
		}
		k := key{a.Region, a.Class}
		count[k]++
		value[k] += max(0, a.ValueFen)
	}
	keys := make([]key, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.r, b.r), cmp.Compare(a.c, b.c)) })
	if len(keys) > cmproto.MaxRegionAssets {
		keys = keys[:cmproto.MaxRegionAssets] // a summary, not an inventory
	}
	var out []*pb.RegionAssets
	for _, k := range keys {
		out = append(out, &pb.RegionAssets{Region: string(k.r), AssetClass: string(k.c), Count: count[k], ValueBand: uint32(court.BandOf(value[k]))})
	}
	var debtor string
	for _, p := range parties {
		if p.Role == court.RoleRespondent && p.Region != "" {
			debtor = string(p.Region)
			break
		}
	}
	return out, debtor
}
