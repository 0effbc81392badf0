package funds

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"os"
	"slices"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/api"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// noticeTemplate is the built-in 协助执行通知书: one A4 page, Chinese,
// print-ready HTML (the CJK font is the system's: Noto CJK on Debian's
// fonts-noto-cjk). A court replaces it with Deps.TemplateFile; the data
// is NoticeData.
//
//go:embed templates/assist_notice.html
var noticeTemplate string

// NoticeData is what a notice template receives: only what the assisting
// body needs (the court it now answers to, the case numbers, the asset and
// the measure), never the parties.
type NoticeData struct {
	CourtName, OriginName string
	NewCase, OldCase      string
	Mode                  string
	BodyLabel             string
	AssetClass, Asset     string
	Account               string // in full: the body must find the account
	Measure, MeasureKind  string
	Expiry                string
	Date                  string
}

// BodyLabels are the assisting bodies' Chinese names.
var BodyLabels = map[string]string{
	"bank": "银行", "real_estate_registry": "不动产登记机构", "vehicle_administration": "车辆管理所",
	"market_regulator": "市场监督管理部门", "other": "协助执行单位",
}

// bodyFor is the kind of body that holds a measure on an asset of class c.
func bodyFor(c court.AssetClass) string {
	switch c {
	case court.AssetDeposit, court.AssetOnlinePayment:
		return "bank"
	case court.AssetRealEstate:
		return "real_estate_registry"
	case court.AssetVehicle:
		return "vehicle_administration"
	case court.AssetEquity:
		return "market_regulator"
	}
	return "other"
}

// receiverCase reads the receiver's filed case of transfer t.
func (s *Service) receiverCase(t *cmproto.Transfer) (court.CaseNumber, storage.CaseVersion, error) {
	cn, err := court.ParseCaseNumber(t.NewCaseNumber)
	if err != nil {
		return cn, storage.CaseVersion{}, err
	}
	_, v, err := s.d.Store.Case(cn)
	if errors.Is(err, court.ErrNotFound) {
		return cn, v, fmt.Errorf("transfer %s: case %s is not filed here yet; fetch the dossier first (courtmesh dossier fetch %s): %w", t.ID, cn, t.ID, court.ErrNotFound)
	}
	return cn, v, err
}

// Worklist is the receiver's notices to the assisting bodies of the
// moved measures: every active measure of the filed case gets a drafted
// notice (a record in this court's log) the first time it is listed.
func (s *Service) Worklist(ctx context.Context, id court.TransferID) (api.NoticeWorklist, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, role, _, err := s.load(id)
	if err != nil {
		return api.NoticeWorklist{}, err
	}
	if role != "receiver" {
		return api.NoticeWorklist{}, fmt.Errorf("the notices of transfer %s are the receiver %s's worklist: %w", id, t.Receiver, court.ErrPermission)
	}
	if err := s.acting(t, role); err != nil {
		return api.NoticeWorklist{}, err
	}
	cn, v, err := s.receiverCase(t)
	if err != nil {
		return api.NoticeWorklist{}, err
	}
	today := court.DateOf(s.d.Now())
	for _, m := range v.Measures {
		if m.Status != court.MeasureActive || slices.ContainsFunc(t.Notices, func(n cmproto.NoticeState) bool { return n.Measure == m.ID }) {
			continue
		}
		body := &pb.AssistNotice{MeasureId: m.ID, BodyKind: bodyFor(assetOf(v, m.Asset).Class), Status: "drafted", On: today.String(), CaseNumber: cn.String()}
		if !m.Expiry.IsZero() {
			body.MeasureExpiry = m.Expiry.String()
		}
		if t, err = s.issueNotice(ctx, t, body, v); err != nil {
			return api.NoticeWorklist{}, err
		}
		s.done(ctx, "notice.drafted", id, cn.String(), t.Origin, fmt.Sprintf("notice for measure %s to a %s", m.ID, body.BodyKind))
	}
	return worklist(t, v), nil
}

func (s *Service) issueNotice(ctx context.Context, t *cmproto.Transfer, body *pb.AssistNotice, v storage.CaseVersion) (*cmproto.Transfer, error) {
	key, err := s.dataKey(t, t.Receiver)
	if err != nil {
		return nil, err
	}
	m, _ := measureOf(v, body.MeasureId)
	a := assetOf(v, m.Asset)
	detail, _ := json.Marshal(map[string]string{"asset": a.ID, "description": a.Description, "account": a.AccountMasked})
	if body.Sealed, err = key.SealField(sealLabel("notice", t.ID, t.Receiver, body.MeasureId+"/"+body.Status), detail); err != nil {
		return nil, err
	}
	return s.d.Transfers.Issue(ctx, t.ID, &pb.Record{Body: &pb.Record_AssistNotice{AssistNotice: body}})
}

// MarkNotice records a notice sent or acknowledged.
func (s *Service) MarkNotice(ctx context.Context, id court.TransferID, measure string, req api.NoticeRequest) (api.NoticeWorklist, error) {
	if req.Status != "sent" && req.Status != "acknowledged" {
		return api.NoticeWorklist{}, court.Errorf(court.ErrInvalid, "notice status %q: want sent or acknowledged", req.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, role, _, err := s.load(id)
	if err != nil {
		return api.NoticeWorklist{}, err
	}
	if role != "receiver" {
		return api.NoticeWorklist{}, fmt.Errorf("the notices of transfer %s are the receiver %s's worklist: %w", id, t.Receiver, court.ErrPermission)
	}
	if err := s.acting(t, role); err != nil {
		return api.NoticeWorklist{}, err
	}
	if req.Status != "sent" && req.Status != "acknowledged" {
		return api.NoticeWorklist{}, court.Errorf(court.ErrInvalid, "notice status %q: want sent or acknowledged", req.Status)
	}
	i := slices.IndexFunc(t.Notices, func(n cmproto.NoticeState) bool { return n.Measure == measure })
	if i < 0 {
		return api.NoticeWorklist{}, fmt.Errorf("transfer %s has no notice for measure %q (courtmesh notices list %s drafts them): %w", id, measure, id, court.ErrNotFound)
	}
	on, err := s.date(req.On)
	if err != nil {
		return api.NoticeWorklist{}, err
	}
	cn, v, err := s.receiverCase(t)
	if err != nil {
		return api.NoticeWorklist{}, err
	}
	n := t.Notices[i]
	body := &pb.AssistNotice{MeasureId: measure, BodyKind: n.BodyKind, Status: req.Status, On: on.String(), CaseNumber: cn.String(), MeasureExpiry: n.MeasureExpiry}
	if t, err = s.issueNotice(ctx, t, body, v); err != nil {
		return api.NoticeWorklist{}, err
	}
	s.done(ctx, "notice."+req.Status, id, cn.String(), t.Origin, fmt.Sprintf("notice for measure %s %s on %s", measure, req.Status, on))
	return worklist(t, v), nil
}

func worklist(t *cmproto.Transfer, v storage.CaseVersion) api.NoticeWorklist {
	w := api.NoticeWorklist{Transfer: string(t.ID), Case: t.NewCaseNumber, Notices: []api.Notice{}, MissingItems: t.MissingDossierItems()}
	for _, n := range t.Notices {
		m, _ := measureOf(v, n.Measure)
		w.Notices = append(w.Notices, api.Notice{Measure: n.Measure, MeasureKind: string(m.Kind), AssetClass: string(assetOf(v, m.Asset).Class),
			BodyKind: n.BodyKind, BodyLabel: BodyLabels[n.BodyKind], Status: n.Status, DraftedOn: n.DraftedOn, SentOn: n.SentOn,
			AckOn: n.AcknowledgeOn, MeasureExpiry: n.MeasureExpiry})
		if n.Status != "acknowledged" {
			w.Unacknowledged++
		}
	}
	return w
}

func measureOf(v storage.CaseVersion, id string) (court.Measure, bool) {
	for _, m := range v.Measures {
		if m.ID == id {
			return m, true
		}
	}
	return court.Measure{}, false
}

func assetOf(v storage.CaseVersion, id string) court.Asset {
	for _, a := range v.Assets {
		if a.ID == id {
			return a
		}
	}
	return court.Asset{ID: id, Class: court.AssetOther}
}

// NoticeDocument renders the notice for one measure as print-ready HTML
// (A4, Chinese). It shows the account in full, which the body needs: the
// read is audited first (Before), and refused if it cannot be.
func (s *Service) NoticeDocument(ctx context.Context, id court.TransferID, measure string) ([]byte, error) {
	t, role, self, err := s.load(id)
	if err != nil {
		return nil, err
	}
	if role != "receiver" {
		return nil, fmt.Errorf("the notices of transfer %s are the receiver %s's: %w", id, t.Receiver, court.ErrPermission)
	}
	i := slices.IndexFunc(t.Notices, func(n cmproto.NoticeState) bool { return n.Measure == measure })
	if i < 0 {
		return nil, fmt.Errorf("transfer %s has no notice for measure %q: %w", id, measure, court.ErrNotFound)
	}
	cn, v, err := s.receiverCase(t)
	if err != nil {
		return nil, err
	}
	m, _ := measureOf(v, measure)
	a := assetOf(v, m.Asset)
	key, err := s.d.Store.DataKey(cn)
	if err != nil {
		return nil, err
	}
	d := NoticeData{CourtName: s.courtName(self), OriginName: s.courtName(t.Origin), NewCase: cn.String(), OldCase: t.CaseNumber,
		Mode: t.Mode, BodyLabel: BodyLabels[t.Notices[i].BodyKind], AssetClass: a.Class.Label(), Asset: a.Description,
		Measure: m.ID, MeasureKind: m.Kind.Label(), Date: court.DateOf(s.d.Now()).String()}
	if !m.Expiry.IsZero() {
		d.Expiry = m.Expiry.String()
	}
	if len(a.AccountSealed) > 0 {
		acct, err := key.OpenField(storage.FieldLabel("asset", a.ID, "account"), a.AccountSealed)
		if err != nil {
			return nil, fmt.Errorf("notice for measure %s: the asset's account does not open: %w", measure, court.ErrCorrupt)
		}
		d.Account = string(acct)
	} else {
		d.Account = a.AccountMasked
	}
	who := api.ActorFrom(ctx)
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "notice.rendered", Outcome: "ok", Transfer: string(id), Case: cn.String(),
		Detail: fmt.Sprintf("notice to the assisting body of measure %s, account shown in full (by %s)", measure, who)}); err != nil {
		return nil, err
	}
	src, err := s.templateSource()
	if err != nil {
		return nil, err
	}
	return RenderNotice(src, d)
}

// RenderNotice renders a notice template (html/template over NoticeData;
// DefaultNoticeTemplate is the built-in one) for d.
func RenderNotice(src string, d NoticeData) ([]byte, error) {
	tpl, err := template.New("notice").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, court.Errorf(court.ErrInvalid, "the notice template does not parse: %v", err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, d); err != nil {
		return nil, court.Errorf(court.ErrInvalid, "the notice template does not render: %v", err)
	}
	return b.Bytes(), nil
}

// templateSource is the court's template (Deps.TemplateFile) if it has
// one, else the built-in one.
func (s *Service) templateSource() (string, error) {
	if s.d.TemplateFile == "" {
		return noticeTemplate, nil
	}
	b, err := os.ReadFile(s.d.TemplateFile)
	switch {
	case err == nil:
		return string(b), nil
	case errors.Is(err, os.ErrNotExist):
		return noticeTemplate, nil
	}
	return "", fmt.Errorf("notice template %s: %w", s.d.TemplateFile, err)
}

// DefaultNoticeTemplate is the built-in notice template.
func DefaultNoticeTemplate() string { return noticeTemplate }

func (s *Service) courtName(c court.CourtCode) string {
	if cert, err := s.d.Trust.Trust().Court(c, s.d.Now()); err == nil && cert.Name != "" {
		return cert.Name
	}
	return string(c)
}

// TemplateFile is where in the data directory a court puts its own notice
// template (html/template over NoticeData); without it the built-in one
// is used.
const TemplateFile = "templates/assist_notice.html"
