package storage

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// ResumeCase resumes a case concluded as 终本 (StatusTerminated) under a
// new 执恢 number of the same court: the current version of old becomes
// version 1 of the new case, active, with its assets and measures (the
// measures keep their priority: they are the same court's, and leave the
// old case's expiry index), its data key
// wrapped anew for the new number. The old case stays terminated: the
// resumed case is a new case (恢复执行 is counted as such). It refuses an
// old case that is not 终本 and a new number that is not an 执恢 number
// of the court or is taken.
func (db *DB) ResumeCase(old, resumed court.CaseNumber) (CaseRecord, error) {
	if db.dec == nil {
		return CaseRecord{}, fmt.Errorf("resume %s: %w: no encryption key", old, court.ErrUnavailable)
	}
	if resumed.Type != court.TypeResumed || resumed.Court != old.Court {
		return CaseRecord{}, fmt.Errorf("%w: a case resumed from 终本 gets an 执恢 number of %s, not %s", court.ErrInvalid, old.Court, resumed)
	}
	head, v, err := db.Case(old)
	if err != nil {
		return CaseRecord{}, err
	}
	if head.Status != court.StatusTerminated {
		return CaseRecord{}, fmt.Errorf("%w: case %s is %s; only a case concluded as 终本 (terminated) is resumed (执恢)", court.ErrConflict, old, head.Status)
	}
	key, err := db.dataKey(head)
	if err != nil {
		return CaseRecord{}, err
	}
	wrapped, err := crypto.WrapDataKey(db.dec.KEM(), db.dec.PublicKey(), crypto.PurposeDossier, resumed.String(), key)
	if err != nil {
		return CaseRecord{}, err
	}
	now := db.now().UTC().Format(time.RFC3339)
	v.Number, v.Version, v.Status, v.Imported = resumed, 1, court.StatusActive, now
	rh := CaseRecord{V: RecordVersion, Number: resumed, Court: head.Court, Status: court.StatusActive, Version: 1,
		ContentHash: v.ContentHash, WrappedKey: wrapped, Created: now, Updated: now, Respondents: head.Respondents}
	err = db.bdb.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(caseKey(resumed)); err == nil {
			return fmt.Errorf("%w: case %s already exists in this court", court.ErrConflict, resumed)
		}
		if err := setJSON(txn, versionKey(resumed, 1), v); err != nil {
			return err
		}
		if err := setJSON(txn, caseKey(resumed), rh); err != nil {
			return err
		}
		if err := txn.Set(caseStatusKey(court.StatusActive, resumed), nil); err != nil {
			return err
		}
		for _, a := range v.Assets {
			if err := setJSON(txn, assetKey(resumed, a.ID), a); err != nil {
				return err
			}
		}
		for _, m := range v.Measures {
			if err := setJSON(txn, measureKey(resumed, m.ID), m); err != nil {
				return err
			}
			if indexed(m) {
				// The measure is the resumed case's now: its expiry
				// alerts name that case, once.
				if err := txn.Delete(measureExpiryKey(m.Expiry, old, m.ID)); err != nil {
					return err
				}
				if err := txn.Set(measureExpiryKey(m.Expiry, resumed, m.ID), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return CaseRecord{}, fmt.Errorf("resume %s as %s: %w", old, resumed, err)
	}
	return rh, nil
}
