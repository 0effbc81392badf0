package node_test

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/nodetest"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestResponsiblePersonSealed: the records the law ties to a person (the
// decision, the acceptance, a handover overriding the 30-day guard) made
// by named accounts carry that person's name sealed to the transfer's
// courts: each of them opens it, a court outside the transfer cannot,
// and the signed bytes that travel never hold the name in clear. A step
// taken with the node's bootstrap token names no one.
func TestResponsiblePersonSealed(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	_, expiring := s.cases("京0105", 1)
	as := func(name, display string, roles ...court.StaffRole) context.Context {
		return api.WithPerson(ctx, api.Person{Name: name, DisplayName: display, Roles: roles, TokenID: "0123456789abcdef"})
	}
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: expiring[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	id := tr.ID
	s.expectEverywhere(id, cmproto.StateOffered)
	must(t)(s.as("京01").Workflow().Decide(as("zhao", "赵某某", court.RoleSuperiorJudge), id, api.DecideRequest{Mode: "designated", Receiver: "京0108", DecisionNumber: "（2026）京01执监40号"}))
	s.expectEverywhere(id, cmproto.StateDecided)
	must(t)(s.as("京0108").Workflow().Accept(as("qian", "钱某某", court.RoleJudge), id, api.AcceptRequest{NewCaseNumber: nodetest.CaseNo(time.Now(), "京0108", court.TypeEnforcement, 40)}))
	s.expectEverywhere(id, cmproto.StateAccepted)
	must(t)(s.as("京0105").Workflow().Handover(as("sun", "孙某某", court.RoleJudge, court.RoleDirector), id, api.HandoverRequest{OverrideReason: "续行裁定已送达登记机关，回执待补"}))
	s.expectEverywhere(id, cmproto.StateHandedOver)

	want := map[string]cmproto.Responsible{
		"decision":   {Version: 1, Name: "赵某某", Account: "zhao", Role: "上级法院审判员"},
		"acceptance": {Version: 1, Name: "钱某某", Account: "qian", Role: "承办法官"},
		"handover":   {Version: 1, Name: "孙某某", Account: "sun", Role: "执行局长"},
	}
	issuers := map[string]court.CourtCode{"decision": "京01", "acceptance": "京0108", "handover": "京0105"}
	readers := []court.CourtCode{"京0105", "京01", "京0108"}
	for kind, issuer := range issuers {
		for _, reader := range append(readers, "京0102") {
			rec := recordOf(t, s.as(reader), s.as(issuer), id, kind)
			for _, name := range []string{"赵某某", "钱某某", "孙某某"} {
				if bytes.Contains(rec.Raw, []byte(name)) {
					t.Errorf("the %s as %s holds it: %s in clear", kind, reader, name)
				}
			}
			k, sealed, keys := cmproto.ResponsibleOf(rec.PB)
			got, err := cmproto.OpenResponsible(s.keyOf(reader), reader, id, k, sealed, keys)
			switch {
			case reader == "京0102":
				if court.KindOf(err) != court.ErrNotFound {
					t.Errorf("the %s opened at 京0102, outside the transfer: %+v, %v", kind, got, err)
				}
			case err != nil:
				t.Errorf("the %s at %s: %v", kind, reader, err)
			case got != want[kind]:
				t.Errorf("the %s at %s names %+v; want %+v", kind, reader, got, want[kind])
			}
		}
	}
	// The offer was made with the bootstrap token: no one is named.
	if _, sealed, _ := cmproto.ResponsibleOf(recordOf(t, s.as("京0105"), s.as("京0105"), id, "offer").PB); len(sealed) != 0 {
		t.Errorf("the offer carries a sealed person")
	}
}

// recordOf finds the record of kind of transfer id in issuer's log as
// the node at holds it.
func recordOf(t *testing.T, at, issuer *node.Node, id court.TransferID, kind string) *cmproto.Record {
	t.Helper()
	raws, err := at.Store().LogRange(court.PeerID(issuer.PeerID().String()), 1, math.MaxUint64, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		r, err := cmproto.DecodeRecord(raw, at.Trust(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r.Transfer == id && string(r.Kind) == kind {
			return r
		}
	}
	t.Fatalf("no %s of transfer %s in the log of %s at %s", kind, id, issuer.Status().CourtCode, at.Status().CourtCode)
	return nil
}

// keyOf is the encryption key of court c's node, from its data directory.
func (s *scenario) keyOf(c court.CourtCode) crypto.Decrypter {
	s.t.Helper()
	for i, n := range s.tm.nodes {
		if n == s.as(c) {
			_, ek, err := s.tm.Dirs[i].Keys()
			if err != nil {
				s.t.Fatal(err)
			}
			return ek
		}
	}
	s.t.Fatalf("no node of %s", c)
	return nil
}
