package main

import (
	"context"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node"
	"courtmesh.dev/courtmesh/node/api"
)

// demoAfterHandover plays what follows the money, the sanctions and the
// assisting bodies after the handover: a deduction landing at the origin
// after its 销案 and forwarded, two sanctions re-issued by the receiver
// and lifted by the origin, and the receiver's worklist of notices.
func demoAfterHandover(ctx context.Context, d *demo, nodes []*node.Node, origin, receiver *node.Node, id court.TransferID, amount int64) error {
	d.say("After its 销案 a deduction (%s) lands in 京0105's case account; 京0105 forwards it, 京0108 records it received.", yuan(amount))
	if _, err := origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: amount, Source: "deduction",
		Reference: "DEMO-BK-0001", Account: "9999 0105 0000 0001", Measure: "m1"}); err != nil {
		return err
	}
	if _, err := origin.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "forwarded", AmountFen: amount, Account: "9999 0108 0000 0001"}); err != nil {
		return err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		l, err := receiver.Funds().Ledger(id)
		return err == nil && l.InTransitFen == amount
	}); err != nil {
		return errorf("demo: the forward did not reach the receiver: %w", err)
	}
	if _, err := receiver.Funds().RecordFunds(ctx, id, api.FundsEntryRequest{Kind: "received", AmountFen: amount, Source: "forward"}); err != nil {
		return err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		for _, n := range nodes {
			if l, err := n.Funds().Ledger(id); err != nil || l.InTransitFen != 0 || l.RecoveredFen != amount || len(l.Entries) != 3 {
				return false
			}
		}
		return true
	}); err != nil {
		return errorf("demo: the ledger did not reach every court: %w", err)
	}
	d.ok("funds ledger on every court: recovered %s, held by 京0105 0.00, by 京0108 %s, in transit 0.00 (accounts sealed)", yuan(amount), yuan(amount))

	d.say("Sanctions travel with the case: 京0108 re-issues the 失信 listing and the 限制消费令 under its new number; only then does 京0105 lift its own.")
	for _, k := range []string{"dishonest_listing", "consumption_restriction"} {
		if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "in_force", Kind: k, Respondent: "某某科技有限公司"}); err != nil {
			return err
		}
	}
	if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "lifted", ID: "s1"}); err == nil {
		return errorf("demo: the origin lifted a sanction before the re-issue")
	} else {
		d.ok("lifting s1 before the re-issue is refused: %v", err)
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		l, err := receiver.Funds().Sanctions(id)
		return err == nil && l.ToReissue == 2
	}); err != nil {
		return errorf("demo: the sanctions did not reach the receiver: %w", err)
	}
	for _, s := range []string{"s1", "s2"} {
		if _, err := receiver.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "reissued", ID: s}); err != nil {
			return err
		}
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		l, err := origin.Funds().Sanctions(id)
		return err == nil && l.ToLift == 2
	}); err != nil {
		return errorf("demo: the re-issues did not reach the origin: %w", err)
	}
	for _, s := range []string{"s1", "s2"} {
		if _, err := origin.Funds().ActOnSanction(ctx, id, api.SanctionRequest{Action: "lifted", ID: s}); err != nil {
			return err
		}
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		l, err := receiver.Funds().Sanctions(id)
		return err == nil && l.ToReissue == 0 && l.ToLift == 0 && len(l.Sanctions) == 2
	}); err != nil {
		return errorf("demo: the lifts did not reach the receiver: %w", err)
	}
	d.ok("2 sanctions re-issued under the new number and lifted by the origin; none lapsed, none listed twice")

	d.say("京0108's worklist: a notice (协助执行通知书) to the assisting body of every moved measure.")
	w, err := receiver.Funds().Worklist(ctx, id)
	if err != nil {
		return err
	}
	bodies := map[string]int{}
	for _, n := range w.Notices {
		bodies[n.BodyLabel]++
	}
	if len(w.Notices) == 0 {
		return errorf("demo: no notice drafted for the moved measures")
	}
	first := w.Notices[0].Measure
	if _, err := receiver.Funds().MarkNotice(ctx, id, first, api.NoticeRequest{Status: "sent"}); err != nil {
		return err
	}
	if w, err = receiver.Funds().MarkNotice(ctx, id, first, api.NoticeRequest{Status: "acknowledged"}); err != nil {
		return err
	}
	doc, err := receiver.Funds().NoticeDocument(ctx, id, first)
	if err != nil {
		return err
	}
	d.ok("%d notices drafted %v; %s sent and acknowledged, %d awaiting acknowledgement; printable A4 notice (%d bytes HTML)", len(w.Notices), bodies, first, w.Unacknowledged, len(doc))
	if _, err := origin.Funds().NameDossierItems(ctx, id); err != nil {
		return err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		items, err := receiver.Funds().DossierItems(id)
		return err == nil && items.Named
	}); err != nil {
		return errorf("demo: the dossier items did not reach the receiver: %w", err)
	}
	items, err := receiver.Funds().DossierItems(id)
	if err != nil {
		return err
	}
	var missing []string
	for _, it := range items.Missing {
		missing = append(missing, it.Label)
	}
	d.ok("dossier items named by 京0105: %d carried; not carried: %v", len(items.Carried), missing)
	return nil
}
