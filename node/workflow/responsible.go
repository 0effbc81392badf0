package workflow

import (
	"context"
	"fmt"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// responsible seals the person of ctx (a named account, api.PersonFrom)
// for record kind of transfer id, to this court and the courts named:
// the record then carries the name the law ties it to, sealed, never in
// clear. The role is the first of roles the person holds. With the
// node's bootstrap token (or no person) it seals nothing.
func (w *Service) responsible(ctx context.Context, id court.TransferID, kind string, roles []court.StaffRole, courts ...court.CourtCode) ([]byte, []*pb.WrappedKey, error) {
	p, ok := api.PersonFrom(ctx)
	if !ok || p.Bootstrap {
		return nil, nil, nil
	}
	role := ""
	if i := slices.IndexFunc(roles, p.Has); i >= 0 {
		role = string(roles[i])
	}
	readers := []*crypto.Certificate{}
	for _, c := range append([]court.CourtCode{w.court}, courts...) {
		if c == "" || slices.ContainsFunc(readers, func(x *crypto.Certificate) bool { return x.Code == c }) {
			continue
		}
		cert, err := w.trust.Trust().Court(c, w.now())
		if err != nil {
			return nil, nil, fmt.Errorf("transfer %s: no certificate in force for %s to seal the responsible person to: %w", id, c, err)
		}
		readers = append(readers, cert)
	}
	return cmproto.SealResponsible(id, kind, cmproto.Responsible{Name: api.ResponsibleName(ctx), Account: p.Name, Role: role}, readers)
}
