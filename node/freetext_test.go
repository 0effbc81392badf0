package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// TestFreeTextRefusesPersonalDataMesh: through a running mesh, a
// withdrawal whose reason holds a phone number, an identity-like digit
// run or a party's name is answered 422 and nothing is published: no
// node's transfers, log heads, store or audit log change. An ordinary
// reason then goes through.
func TestFreeTextRefusesPersonalDataMesh(t *testing.T) {
	s := newScenario(t)
	ctx := context.Background()
	safe, _ := s.cases("京0105", 6)
	if len(safe) == 0 {
		t.Fatal("no case without a near-expiry measure")
	}
	tr := must(t)(s.as("京0105").Workflow().Offer(ctx, api.OfferRequest{CaseNumber: safe[0].String(), Superior: "京01", Grounds: []string{"long_unexecuted"}}))
	s.expectEverywhere(tr.ID, cmproto.StateOffered)
	_, v, err := s.as("京0105").Store().Case(safe[0])
	if err != nil || len(v.Parties) == 0 {
		t.Fatalf("case %s: %v, %d parties", safe[0], err, len(v.Parties))
	}
	party := v.Parties[len(v.Parties)-1].Name

	origin := s.conn(t, "京0105")
	path := "/v1/transfers/" + string(tr.ID) + "/withdraw"
	before := s.state(t)
	for _, c := range []struct{ name, reason, pd, want string }{
		{"phone", "申请人要求撤回，联系电话 13800000000", "13800000000", "mobile phone number"},
		{"account", "账户 9999 0000 1111 2222 已全额扣划", "9999", "account"},
		{"party name", party + "已主动履行", party, "name of a party"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(api.ReasonRequest{Reason: c.reason})
			if err != nil {
				t.Fatal(err)
			}
			status, body := origin.send(t, "POST", path, "Bearer "+origin.token, b)
			var wire struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(body, &wire); err != nil {
				t.Fatalf("%d %s: %v", status, body, err)
			}
			e := wire.Error
			if status != http.StatusUnprocessableEntity || e.Code != api.CodeInvalid || !strings.Contains(e.Message, c.want) || !strings.Contains(e.Message, "reason") {
				t.Errorf("withdraw with a %s in the reason: %d %s, want 422 invalid naming the reason and %q", c.name, status, body, c.want)
			}
			if strings.Contains(e.Message, c.pd) {
				t.Errorf("the answer repeats the personal data: %s", body)
			}
		})
	}
	if d := before.diff(s.state(t)); d != "" {
		t.Errorf("refused withdrawals changed the mesh: %s", d)
	}
	status, body := origin.send(t, "POST", path, "Bearer "+origin.token, []byte(`{"reason":"被执行人已主动履行"}`))
	if status != http.StatusOK {
		t.Fatalf("an ordinary reason: %d %s", status, body)
	}
	s.expectEverywhere(tr.ID, cmproto.StateWithdrawn)
}
