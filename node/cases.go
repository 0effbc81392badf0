package node

import (
	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/cases"
)

// MaxWithin bounds the look-ahead of the expiry watch: the case room's
// bound (cases.MaxWithin), which the asset alerts share.
const MaxWithin = cases.MaxWithin

// dateOrEmpty is d as YYYY-MM-DD, or "" for the zero date.
func dateOrEmpty(d court.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}
