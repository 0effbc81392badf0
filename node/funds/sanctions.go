package funds

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
)

// SanctionLabels are the sanction kinds' Chinese names.
var SanctionLabels = map[string]string{
	"dishonest_listing":       "失信被执行人名单",
	"consumption_restriction": "限制消费令",
	"exit_restriction":        "限制出境",
	"other":                   "其他信用惩戒",
}

// Sanctions lists the transfer's credit sanctions and who must act on
// each: the receiver re-issues, then the origin lifts.
func (s *Service) Sanctions(id court.TransferID) (api.SanctionList, error) {
	t, role, _, err := s.load(id)
	if err != nil {
		return api.SanctionList{}, err
	}
	return sanctionList(t, role), nil
}

func sanctionList(t *cmproto.Transfer, role string) api.SanctionList {
	l := api.SanctionList{Transfer: string(t.ID), Role: role, Sanctions: []api.Sanction{}}
	for _, x := range t.Sanctions {
		a := api.Sanction{ID: x.ID, Kind: x.Kind, KindLabel: SanctionLabels[x.Kind], Until: x.Until, DeclaredOn: x.DeclaredOn,
			ReissueBy: x.ReissueBy, ReissuedOn: x.ReissuedOn, NewCase: x.NewCase, LiftedOn: x.LiftedOn}
		switch {
		case x.ReissuedOn == "":
			a.Waiting, a.Todo = string(t.Receiver), "reissue"
			l.ToReissue++
		case x.LiftedOn == "":
			a.Waiting, a.Todo = string(t.Origin), "lift"
			l.ToLift++
		}
		l.Sanctions = append(l.Sanctions, a)
	}
	return l
}

// ActOnSanction declares (origin), re-issues (receiver) or lifts (origin)
// a sanction of the transfer; the respondent and the decision are sealed.
func (s *Service) ActOnSanction(ctx context.Context, id court.TransferID, req api.SanctionRequest) (api.SanctionList, error) {
	switch req.Action {
	case cmproto.SanctionInForce, cmproto.SanctionReissued, cmproto.SanctionLifted:
	default:
		return api.SanctionList{}, court.Errorf(court.ErrInvalid, "sanction action %q: want in_force, reissued or lifted", req.Action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, role, self, err := s.load(id)
	if err != nil {
		return api.SanctionList{}, err
	}
	if err := s.acting(t, role); err != nil {
		return api.SanctionList{}, err
	}
	on, err := s.date(req.On)
	if err != nil {
		return api.SanctionList{}, err
	}
	for f, v := range map[string]string{"respondent": req.Respondent, "decision": req.Decision} {
		if err := text(f, v, 64); err != nil {
			return api.SanctionList{}, err
		}
	}
	cn := t.CaseNumber
	if role == "receiver" {
		cn = t.NewCaseNumber
	}
	sid, kind := req.ID, req.Kind
	i := slices.IndexFunc(t.Sanctions, func(x cmproto.SanctionState) bool { return x.ID == sid })
	switch req.Action {
	case cmproto.SanctionInForce:
		if sid == "" {
			for n := len(t.Sanctions) + 1; ; n++ {
				sid = fmt.Sprintf("s%d", n)
				if !slices.ContainsFunc(t.Sanctions, func(x cmproto.SanctionState) bool { return x.ID == sid }) {
					break
				}
			}
		}
	case cmproto.SanctionReissued, cmproto.SanctionLifted:
		if i < 0 {
			return api.SanctionList{}, fmt.Errorf("transfer %s has no sanction %q (courtmesh sanctions list %s): %w", id, sid, id, court.ErrNotFound)
		}
		if kind == "" {
			kind = t.Sanctions[i].Kind
		}
	default:
		return api.SanctionList{}, court.Errorf(court.ErrInvalid, "sanction action %q: want in_force, reissued or lifted", req.Action)
	}
	key, err := s.dataKey(t, self)
	if err != nil {
		return api.SanctionList{}, err
	}
	detail, _ := json.Marshal(map[string]string{"respondent": req.Respondent, "decision": req.Decision})
	sealed, err := key.SealField(sealLabel("sanction", id, self, sid+"/"+req.Action), detail)
	if err != nil {
		return api.SanctionList{}, err
	}
	body := &pb.Sanction{SanctionId: sid, Kind: kind, Action: req.Action, CaseNumber: cn, Until: req.Until, On: on.String(), Sealed: sealed}
	next, err := s.d.Transfers.Issue(ctx, id, &pb.Record{Body: &pb.Record_Sanction{Sanction: body}})
	if err != nil {
		return api.SanctionList{}, err
	}
	s.done(ctx, "sanction."+req.Action, id, cn, counterpart(t, role), fmt.Sprintf("sanction %s (%s) %s on %s", sid, kind, req.Action, on))
	return sanctionList(next, role), nil
}
