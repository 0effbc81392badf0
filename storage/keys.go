package storage

import (
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// Key prefixes. Every key starts with its kind; the rest is built from
// normalised case numbers (which contain no '/') and ids checked by import
// to be [A-Za-z0-9._-].
const (
	prefixCase     = "c/"        // c/<case>                     CaseRecord
	prefixVersion  = "v/"        // v/<case>/<%08d version>       CaseVersion
	prefixChunk    = "k/"        // k/<hex chunk id>: how Keys lists chunk-store entries (schema 1 kept chunks in Badger under k/<32-byte id>)
	prefixAsset    = "a/"        // a/<case>/<asset>              Asset (current version)
	prefixMeasure  = "m/"        // m/<case>/<measure>            Measure (current version)
	prefixMeasExp  = "ix/mexp/"  // ix/mexp/<yyyymmdd>/<case>/<measure>  active measures by expiry
	prefixCaseStat = "ix/cstat/" // ix/cstat/<status>/<case>      cases by status
	prefixPending  = "meta/pending/"
	keySchema      = "meta/schema"
	keyStatsDef    = "meta/xstats" // the definition the transfers' Stats were computed by
)

func caseKey(n court.CaseNumber) []byte { return []byte(prefixCase + n.String()) }

func versionPrefix(n court.CaseNumber) []byte { return []byte(prefixVersion + n.String() + "/") }

func versionKey(n court.CaseNumber, v int) []byte {
	return fmt.Appendf(nil, "%s%s/%08d", prefixVersion, n, v)
}

func assetPrefix(n court.CaseNumber) []byte { return []byte(prefixAsset + n.String() + "/") }

func assetKey(n court.CaseNumber, id string) []byte { return append(assetPrefix(n), id...) }

func measurePrefix(n court.CaseNumber) []byte { return []byte(prefixMeasure + n.String() + "/") }

func measureKey(n court.CaseNumber, id string) []byte { return append(measurePrefix(n), id...) }

func dateKey(d court.Date) string {
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

// parseDateKey reads what dateKey writes.
func parseDateKey(s string) (court.Date, error) {
	if len(s) != 8 {
		return court.Date{}, court.Errorf(court.ErrCorrupt, "date key %q: want YYYYMMDD", s)
	}
	// The common case without building the string court.ParseDate
	// reads (the deadline index is read a key per overdue alert).
	n, digits := 0, true
	for i := range len(s) {
		digits = digits && s[i] >= '0' && s[i] <= '9'
		n = n*10 + int(s[i]-'0')
	}
	if d := (court.Date{Year: n / 10000, Month: time.Month(n / 100 % 100), Day: n % 100}); digits && d.Valid() {
		return d, nil
	}
	return court.ParseDate(s[:4] + "-" + s[4:6] + "-" + s[6:])
}

func measureExpiryKey(d court.Date, n court.CaseNumber, id string) []byte {
	return []byte(prefixMeasExp + dateKey(d) + "/" + n.String() + "/" + id)
}

func caseStatusKey(s court.CaseStatus, n court.CaseNumber) []byte {
	return []byte(prefixCaseStat + string(s) + "/" + n.String())
}
