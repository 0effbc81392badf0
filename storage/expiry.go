package storage

import (
	"context"
	"fmt"
	"strings"

	badger "github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
)

// ExpiringMeasure is an active measure with its days to expiry.
type ExpiringMeasure struct {
	Case       court.CaseNumber
	Measure    court.Measure
	AssetClass court.AssetClass
	DaysLeft   int // from the reference date to the expiry day; negative once past
}

// ExpiringMeasures lists the active measures whose expiry is on or before
// asOf + within days, soonest first, read from the expiry index. Measures
// already past their expiry but still recorded active are included with
// negative DaysLeft: they are the ones that may have lapsed.
func (db *DB) ExpiringMeasures(ctx context.Context, asOf court.Date, within int) ([]ExpiringMeasure, error) {
	limit := dateKey(asOf.AddDate(0, 0, within))
	var out []ExpiringMeasure
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixMeasExp)})
		defer it.Close()
		assets := map[string]court.Asset{}
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			rest := string(it.Item().Key()[len(prefixMeasExp):])
			parts := strings.SplitN(rest, "/", 3)
			if len(parts) != 3 {
				return fmt.Errorf("%w: expiry index key %q", court.ErrCorrupt, it.Item().Key())
			}
			if parts[0] > limit {
				break
			}
			n, err := court.ParseCaseNumber(parts[1])
			if err != nil {
				return fmt.Errorf("%w: expiry index key %q: %v", court.ErrCorrupt, it.Item().Key(), err)
			}
			var m court.Measure
			if err := getJSON(txn, measureKey(n, parts[2]), &m); err != nil {
				return fmt.Errorf("expiry index entry %q: %w", it.Item().Key(), err)
			}
			ak := string(assetKey(n, m.Asset))
			a, ok := assets[ak]
			if !ok {
				if err := getJSON(txn, []byte(ak), &a); err != nil {
					return fmt.Errorf("measure %s of case %s: asset %s: %w", m.ID, n, m.Asset, err)
				}
				assets[ak] = a
			}
			out = append(out, ExpiringMeasure{Case: n, Measure: m, AssetClass: a.Class, DaysLeft: asOf.DaysUntil(m.Expiry)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expiring measures: %w", err)
	}
	return out, nil
}

// Measures returns the current measures of case n.
func (db *DB) Measures(n court.CaseNumber) ([]court.Measure, error) {
	_, v, err := db.Case(n)
	if err != nil {
		return nil, err
	}
	return v.Measures, nil
}
