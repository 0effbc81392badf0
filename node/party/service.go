package party

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/api"
	"courtmesh.dev/courtmesh/node/audit"
	"courtmesh.dev/courtmesh/node/records"
	cmproto "courtmesh.dev/courtmesh/protocol"
	"courtmesh.dev/courtmesh/protocol/pb"
	"courtmesh.dev/courtmesh/storage"
)

// Store is what the party service reads and writes of the node's store.
type Store interface {
	CodeStore
	QueryCodeBySelector(n court.CaseNumber, selector string) (storage.QueryCode, error)
	Complaint(id string) ([]byte, error)
	Complaints(ix storage.ComplaintIndex, key, cursor string, limit int) ([][]byte, string, error)
}

var _ Store = (*storage.DB)(nil)

var _ api.ComplaintService = (*Service)(nil)

// Records is what the party service needs of the record logs: the
// transfers that name a case, and issuing and loading complaints
// (node/records implements it).
type Records interface {
	ByCase(ctx context.Context, n court.CaseNumber) ([]*cmproto.Transfer, error)
	IssueComplaint(ctx context.Context, id court.TransferID, body *pb.Record) (*cmproto.Complaint, error)
	LoadComplaint(id court.TransferID) (*cmproto.Complaint, error)
}

var _ Records = (*records.Service)(nil)

// TrustView gives the trust bundle in force.
type TrustView interface{ Trust() *crypto.Trust }

// Deps is what the party service is built from.
type Deps struct {
	Store     Store
	Records   Records
	Trust     TrustView
	Decrypter crypto.Decrypter // this court's key: opens complaints and answers sealed to it
	Audit     audit.Policy
	Court     court.CourtCode // this node's court
	Log       *slog.Logger
	Now       func() time.Time
	// AnswerDays is how many days the supervising court has to answer a
	// complaint; 0 means 15.
	AnswerDays int
	// Contact is this court's public contact shown to parties ("" shows
	// only the national hotline 12368).
	Contact string
}

// Service is the party service's model: query codes, what a party may see
// of their case, complaints from both sides. It holds no token of the
// court's API; the portal (Portal) and the court's API routes both use it.
type Service struct {
	d Deps
	// hashes counts the argon2id hashes sign-ins computed (Hashes).
	hashes atomic.Int64
}

// Hashes is the number of argon2id hashes sign-ins have computed: one per
// sign-in, whatever was wrong (tests check it).
func (s *Service) Hashes() int64 { return s.hashes.Load() }

// New builds the service.
func New(d Deps) *Service {
	if d.AnswerDays <= 0 {
		d.AnswerDays = 15
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d}
}

// Hotline is the courts' national public hotline.
const Hotline = "12368"

// MaxComplaintText bounds a complaint's or an answer's text, in characters.
const MaxComplaintText = 2000

// MaxComplaintsPerDay bounds the complaints one case may file in a day
// (China time), so that a session cannot flood the supervising court.
const MaxComplaintsPerDay = 5

// Identity is who signed in: a party of a case.
type Identity struct {
	Case  court.CaseNumber
	Party string
	Role  court.PartyRole
}

// SignIn checks a case number, query code and the last 4 characters of an
// identity number. Whatever is wrong, the answer is the same
// (court.ErrPermission) and costs the same time. It audits the outcome
// (never the code or the identity digits).
func (s *Service) SignIn(caseText, code, last4 string) (Identity, error) {
	q, ok, err := verify(s.d.Store, &s.hashes, caseText, code, last4)
	if err != nil {
		return Identity{}, err
	}
	if !ok {
		e := storage.AuditEntry{Event: "party.signin", Outcome: "refused", Detail: "wrong case number, query code or identity digits"}
		if n, err := court.ParseCaseNumber(caseText); err == nil {
			e.Case = n.String()
		}
		if err := s.d.Audit.Before(e); err != nil {
			return Identity{}, court.Errorf(court.ErrUnavailable, "sign-in cannot be recorded now; try again later")
		}
		return Identity{}, ErrSignIn
	}
	id := Identity{Case: q.Case, Party: q.Party, Role: q.Role}
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "party.signin", Outcome: "ok", Case: q.Case.String(), Detail: "party " + q.Party + " (" + string(q.Role) + ")"}); err != nil {
		return Identity{}, court.Errorf(court.ErrUnavailable, "sign-in cannot be recorded now; try again later")
	}
	return id, nil
}

// ErrSignIn is the one answer to a wrong sign-in.
var ErrSignIn = court.Errorf(court.ErrPermission, "the case number, query code and identity digits do not match")

// CourtInfo is a court as a party sees it.
type CourtInfo struct {
	Code    court.CourtCode `json:"code"`
	Name    string          `json:"name"`
	Contact string          `json:"contact"`
}

// Stage is a step of the case's life with its date.
type Stage struct {
	Key  string `json:"key"` // filed | offered | decided | accepted | handed_over | received | concluded
	Date string `json:"date"`
}

// OtherParty is another party of the case, as the party page may show it:
// role and masked name only.
type OtherParty struct {
	Role court.PartyRole `json:"role"`
	Name string          `json:"name"`
}

// ComplaintView is a complaint as its party sees it.
type ComplaintView struct {
	Ref        string          `json:"ref"`
	Category   string          `json:"category"`
	Complained court.CourtCode `json:"complained"`
	Supervisor CourtInfo       `json:"supervisor"`
	Filed      string          `json:"filed"`
	AnswerBy   string          `json:"answer_by"`
	Answered   string          `json:"answered,omitempty"`
	Answer     string          `json:"answer,omitempty"`
	Overdue    bool            `json:"overdue"`
}

// View is what a signed-in party sees of their case.
type View struct {
	Case         string          `json:"case"` // the number signed in with
	Role         court.PartyRole `json:"role"`
	Name         string          `json:"name"` // the party's own name, masked
	Others       []OtherParty    `json:"others"`
	Now          CourtInfo       `json:"court"`  // the court handling the case now
	Number       string          `json:"number"` // its number there
	Moved        bool            `json:"moved"`
	From         *CourtInfo      `json:"from,omitempty"` // the court it came from
	Stages       []Stage         `json:"stages"`
	Deadlines    []Stage         `json:"deadlines"`
	Progress     string          `json:"progress,omitempty"`    // the status the court published to the parties
	ProgressOn   string          `json:"progress_on,omitempty"` // the day it did
	RecoveredFen int64           `json:"recovered_fen"`
	ClaimFen     int64           `json:"claim_fen"`
	Complaints   []ComplaintView `json:"complaints"`
	// Targets are the courts a complaint may be about.
	Targets []court.CourtCode `json:"targets"`
}

func (s *Service) courtInfo(c court.CourtCode) CourtInfo {
	ci := CourtInfo{Code: c, Name: string(c), Contact: Hotline}
	if cert, err := s.d.Trust.Trust().Court(c, s.d.Now()); err == nil {
		ci.Name = cert.Name
	}
	if c == s.d.Court && s.d.Contact != "" {
		ci.Contact = s.d.Contact + " / " + Hotline
	}
	return ci
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return court.DateOf(t).String()
}

// transfer is the transfer that moved case n away (or brought it here),
// ignoring rejected and withdrawn ones.
func (s *Service) transfer(ctx context.Context, n court.CaseNumber) (*cmproto.Transfer, error) {
	ts, err := s.d.Records.ByCase(ctx, n)
	if err != nil {
		return nil, err
	}
	var best *cmproto.Transfer
	for _, t := range ts {
		if t.State == cmproto.StateRejected || t.State == cmproto.StateWithdrawn {
			continue
		}
		if best == nil || t.OfferedAt.After(best.OfferedAt) {
			best = t
		}
	}
	return best, nil
}

// Status returns what the signed-in party may see. It is audited (the
// party's own case data is read).
func (s *Service) Status(ctx context.Context, id Identity) (*View, error) {
	head, v, err := s.d.Store.Case(id.Case)
	if err != nil {
		return nil, err
	}
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "party.viewed", Outcome: "ok", Case: id.Case.String(), Detail: "party " + id.Party}); err != nil {
		return nil, court.Errorf(court.ErrUnavailable, "the case cannot be shown now; try again later")
	}
	view := &View{Case: id.Case.String(), Role: id.Role, Now: s.courtInfo(head.Court), Number: id.Case.String(), ClaimFen: v.ClaimFen}
	for _, p := range v.Parties {
		if p.ID == id.Party {
			view.Name = court.MaskName(p.Name, p.Kind)
			continue
		}
		view.Others = append(view.Others, OtherParty{Role: p.Role, Name: court.MaskName(p.Name, p.Kind)})
	}
	view.Stages = append(view.Stages, Stage{Key: "filed", Date: v.Filed.OrEmpty()})
	view.Targets = []court.CourtCode{head.Court}
	t, err := s.transfer(ctx, id.Case)
	if err != nil {
		return nil, err
	}
	if t != nil {
		add := func(key string, at time.Time) {
			if !at.IsZero() {
				view.Stages = append(view.Stages, Stage{Key: key, Date: date(at)})
			}
		}
		add("offered", t.OfferedAt)
		add("decided", t.DecidedAt)
		add("accepted", t.AcceptedAt)
		add("handed_over", t.HandedOverAt)
		add("received", t.ReceivedAt)
		add("concluded", t.ClosedAt)
		if t.AcceptBy != "" && t.AcceptedAt.IsZero() {
			view.Deadlines = append(view.Deadlines, Stage{Key: "accept_by", Date: t.AcceptBy})
		}
		// The deadlines the decision fixed, as every node holds them
		// (protocol.Transfer); the statutory defaults for transfers
		// decided by older builds.
		if !t.HandedOverAt.IsZero() && t.ReceivedAt.IsZero() {
			view.Deadlines = append(view.Deadlines, Stage{Key: "file_by", Date: cmp.Or(t.FileBy, court.DateOf(t.HandedOverAt).AddDate(0, 0, 7).String())})
		}
		if !t.ReceivedAt.IsZero() && t.ClosedAt.IsZero() {
			view.Deadlines = append(view.Deadlines, Stage{Key: "conclude_by", Date: cmp.Or(t.ConcludeBy, court.DateOf(t.ReceivedAt).AddDate(0, 6, 0).String())})
		}
		// Only what the receiving court chose to publish: the status
		// it reports to supervisors stays among the courts.
		view.Progress, view.ProgressOn = t.ProgressPublished, t.ProgressPublishedOn
		view.RecoveredFen = t.AmountRecovered
		switch {
		case t.CaseNumber == id.Case.String() && t.NewCaseNumber != "":
			// The origin keeps the forwarding entry: the case is now
			// the receiver's, under its new number.
			view.Moved = true
			from := s.courtInfo(t.Origin)
			view.From = &from
			view.Now = s.courtInfo(t.Receiver)
			view.Number = t.NewCaseNumber
			view.Targets = []court.CourtCode{t.Receiver, t.Origin}
		case t.NewCaseNumber == id.Case.String():
			from := s.courtInfo(t.Origin)
			view.From = &from
			view.Targets = []court.CourtCode{head.Court, t.Origin}
		}
	}
	cs, err := s.caseComplaints(id.Case)
	if err != nil {
		return nil, err
	}
	today := court.DateOf(s.d.Now())
	for _, c := range cs {
		cv := ComplaintView{Ref: string(c.ID), Category: c.Category, Complained: c.Complained, Supervisor: s.courtInfo(c.Supervisor),
			Filed: date(c.FiledAt), AnswerBy: c.AnswerBy, Overdue: c.Overdue(today)}
		if c.Answered() {
			cv.Answered = date(c.AnsweredAt)
			text, err := s.open(c, "answer")
			if err != nil {
				s.d.Log.Warn("a complaint's answer does not open", "complaint", c.ID, "reason", err)
				text = ""
			}
			cv.Answer = text
		}
		view.Complaints = append(view.Complaints, cv)
	}
	return view, nil
}

// caseComplaints lists the complaints filed on case n, oldest first.
func (s *Service) caseComplaints(n court.CaseNumber) ([]*cmproto.Complaint, error) {
	raws, _, err := s.d.Store.Complaints(storage.ComplaintsByCase, n.String(), "", 1000)
	if err != nil {
		return nil, err
	}
	out := make([]*cmproto.Complaint, 0, len(raws))
	for _, b := range raws {
		c, err := records.DecodeComplaint(b)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *cmproto.Complaint) int { return a.FiledAt.Compare(b.FiledAt) })
	return out, nil
}

// CheckText checks a complaint's or an answer's text.
func CheckText(text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", court.Errorf(court.ErrInvalid, "the text is empty")
	case !utf8.ValidString(text):
		return "", court.Errorf(court.ErrInvalid, "the text is not valid UTF-8")
	case utf8.RuneCountInString(text) > MaxComplaintText:
		return "", court.Errorf(court.ErrInvalid, "the text is longer than %d characters", MaxComplaintText)
	}
	for _, r := range text {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return "", court.Errorf(court.ErrInvalid, "the text holds control characters")
		}
		if r == '<' || r == '>' {
			// Plain text only: markup is refused, not stored to be
			// escaped by every reader.
			return "", court.Errorf(court.ErrInvalid, "the text may not hold < or >")
		}
	}
	return text, nil
}

// seal seals text with a new data key wrapped for each reader.
func (s *Service) seal(id court.TransferID, part, text string, readers []court.CourtCode) ([]byte, []*pb.WrappedKey, error) {
	k, err := crypto.NewDataKey()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := k.SealField(cmproto.ComplaintLabel(id, part), []byte(text))
	if err != nil {
		return nil, nil, err
	}
	var keys []*pb.WrappedKey
	for _, c := range readers {
		cert, err := s.d.Trust.Trust().Court(c, s.d.Now())
		if err != nil {
			return nil, nil, court.Errorf(court.ErrUnavailable, "complaint %s: no certificate in force for %s to seal the %s to: %v", id, c, part, err)
		}
		w, err := crypto.WrapDataKey(cert.EncKEM, cert.EncKey, cmproto.ComplaintPurpose, string(id), k)
		if err != nil {
			return nil, nil, fmt.Errorf("complaint %s: wrap the data key for %s: %w", id, c, err)
		}
		keys = append(keys, &pb.WrappedKey{Court: string(c), CertificateSerial: cert.Serial, Wrapped: w})
	}
	return sealed, keys, nil
}

// open opens a complaint's text ("text") or answer ("answer") with this
// court's key.
func (s *Service) open(c *cmproto.Complaint, part string) (string, error) {
	keys, sealed := c.TextKeys, c.SealedText
	if part == "answer" {
		keys, sealed = c.ReplyKeys, c.SealedReply
	}
	for _, k := range keys {
		if k.Court != s.d.Court {
			continue
		}
		dk, err := crypto.UnwrapDataKey(s.d.Decrypter, cmproto.ComplaintPurpose, string(c.ID), k.Wrapped)
		if err != nil {
			continue // wrapped for another node of this court
		}
		b, err := dk.OpenField(cmproto.ComplaintLabel(c.ID, part), sealed)
		if err != nil {
			return "", court.Errorf(court.ErrCorrupt, "complaint %s: the %s does not open: %v", c.ID, part, err)
		}
		return string(b), nil
	}
	return "", court.Errorf(court.ErrPermission, "complaint %s: the %s is not sealed to this court (%s)", c.ID, part, s.d.Court)
}

// File files a complaint of the signed-in party about court target (one
// of View.Targets): it is sealed to the supervising court, the court
// complained of and this court, issued as a record, and audited. It
// returns the complaint's reference.
func (s *Service) File(ctx context.Context, id Identity, target court.CourtCode, category, text string) (*cmproto.Complaint, error) {
	if !slices.Contains(cmproto.ComplaintCategories, category) {
		return nil, court.Errorf(court.ErrInvalid, "unknown complaint category %q", category)
	}
	text, err := CheckText(text)
	if err != nil {
		return nil, err
	}
	view, err := s.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(view.Targets, target) {
		return nil, court.Errorf(court.ErrInvalid, "a complaint on case %s may be about %v, not %s", id.Case, view.Targets, target)
	}
	today := court.DateOf(s.d.Now())
	filedToday := 0
	for _, c := range view.Complaints {
		if c.Filed == today.String() {
			filedToday++
		}
	}
	if filedToday >= MaxComplaintsPerDay {
		return nil, court.Errorf(court.ErrConflict, "case %s already filed %d complaints today; the supervising court answers each", id.Case, filedToday)
	}
	t, err := s.transfer(ctx, id.Case)
	if err != nil {
		return nil, err
	}
	decider := court.CourtCode("")
	if t != nil {
		decider = t.Decider
	}
	sup, err := cmproto.ComplaintSupervisor(s.d.Trust.Trust(), target, decider)
	if err != nil {
		return nil, err
	}
	var raw [16]byte
	rand.Read(raw[:])
	cid := court.TransferID(hex.EncodeToString(raw[:]))
	c := &cmproto.Complaint{ID: cid, Supervisor: sup, Complained: target, Issuer: s.d.Court}
	sealed, keys, err := s.seal(cid, "text", text, c.Readers())
	if err != nil {
		return nil, err
	}
	answerBy := today.AddDate(0, 0, s.d.AnswerDays).String()
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "complaint.filed", Outcome: "ok", Case: id.Case.String(), Court: string(sup), Transfer: string(cid),
		Detail: fmt.Sprintf("party %s (%s) complains (%s) about %s to %s; answer by %s", id.Party, id.Role, category, target, sup, answerBy)}); err != nil {
		return nil, court.Errorf(court.ErrUnavailable, "the complaint cannot be recorded now; nothing was filed, try again later")
	}
	return s.d.Records.IssueComplaint(ctx, cid, &pb.Record{Body: &pb.Record_PartyComplaint{PartyComplaint: &pb.PartyComplaint{
		CaseNumber: id.Case.String(), ComplainedCourt: string(target), SupervisorCourt: string(sup), Category: category,
		AnswerBy: answerBy, SealedText: sealed, Keys: keys, PartyRole: string(id.Role),
	}}})
}

// ComplaintInfo, ComplaintList and Indicator are the API's types.
type (
	ComplaintInfo = api.ComplaintInfo
	ComplaintList = api.ComplaintList
	Indicator     = api.ComplaintIndicator
)

func (s *Service) info(c *cmproto.Complaint) ComplaintInfo {
	return ComplaintInfo{Ref: string(c.ID), Case: c.CaseNumber, Category: c.Category, PartyRole: c.PartyRole, Issuer: c.Issuer,
		Complained: c.Complained, Supervisor: c.Supervisor, Filed: c.FiledAt.UTC(), AnswerBy: c.AnswerBy,
		Answered: c.AnsweredAt.UTC(), InTime: c.InTime(), Overdue: c.Overdue(court.DateOf(s.d.Now()))}
}

// List lists complaints this court supervises ("supervising", the
// default), those about it ("about"), or the open ones it supervises that
// are past their answer-by date ("overdue"); a page at a time.
func (s *Service) List(_ context.Context, which, cursor string, limit int) (ComplaintList, error) {
	ix := storage.ComplaintsBySupervisor
	switch which {
	case "", "supervising", "overdue":
	case "about":
		ix = storage.ComplaintsByCourt
	default:
		return ComplaintList{}, court.Errorf(court.ErrInvalid, "complaints %q: want supervising, about or overdue", which)
	}
	raws, next, err := s.d.Store.Complaints(ix, string(s.d.Court), cursor, limit)
	if err != nil {
		return ComplaintList{}, err
	}
	out := ComplaintList{Complaints: []ComplaintInfo{}, Next: next}
	for _, b := range raws {
		c, err := records.DecodeComplaint(b)
		if err != nil {
			return ComplaintList{}, err
		}
		in := s.info(c)
		if which == "overdue" && !in.Overdue {
			continue
		}
		out.Complaints = append(out.Complaints, in)
	}
	return out, nil
}

func (s *Service) load(ref string) (*cmproto.Complaint, error) {
	id, err := court.ParseTransferID(ref)
	if err != nil {
		return nil, court.Errorf(court.ErrInvalid, "complaint reference %q: want 32 hex digits", ref)
	}
	c, err := s.d.Records.LoadComplaint(id)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, court.Errorf(court.ErrNotFound, "complaint %s is not known to this node; check the reference or wait for the records to sync", id)
	}
	return c, nil
}

// Show returns a complaint with its text and answer, opened with this
// court's key; it is audited (the text may hold personal data) with the
// purpose.
func (s *Service) Show(_ context.Context, ref, purpose string) (ComplaintInfo, error) {
	c, err := s.load(ref)
	if err != nil {
		return ComplaintInfo{}, err
	}
	if !slices.Contains(c.Readers(), s.d.Court) {
		return ComplaintInfo{}, court.Errorf(court.ErrPermission, "complaint %s is sealed to %v, not to %s", c.ID, c.Readers(), s.d.Court)
	}
	if strings.TrimSpace(purpose) == "" {
		purpose = "complaint handling"
	}
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "complaint.shown", Outcome: "ok", Case: c.CaseNumber, Transfer: string(c.ID), Detail: "purpose: " + purpose}); err != nil {
		return ComplaintInfo{}, court.Errorf(court.ErrUnavailable, "complaint %s cannot be shown now: the audit log cannot be written", c.ID)
	}
	in := s.info(c)
	if in.Text, err = s.open(c, "text"); err != nil {
		return ComplaintInfo{}, err
	}
	if c.Answered() {
		if in.Answer, err = s.open(c, "answer"); err != nil {
			return ComplaintInfo{}, err
		}
	}
	return in, nil
}

// Answer answers a complaint this court supervises: the answer is sealed
// to the complaint's readers, issued as a record and audited.
func (s *Service) Answer(ctx context.Context, ref, text string) (ComplaintInfo, error) {
	c, err := s.load(ref)
	if err != nil {
		return ComplaintInfo{}, err
	}
	if c.Supervisor != s.d.Court {
		return ComplaintInfo{}, court.Errorf(court.ErrPermission, "complaint %s is supervised by %s; %s cannot answer it", c.ID, c.Supervisor, s.d.Court)
	}
	if c.Answered() {
		return ComplaintInfo{}, court.Errorf(court.ErrConflict, "complaint %s was already answered on %s", c.ID, date(c.AnsweredAt))
	}
	if text, err = CheckText(text); err != nil {
		return ComplaintInfo{}, err
	}
	sealed, keys, err := s.seal(c.ID, "answer", text, c.Readers())
	if err != nil {
		return ComplaintInfo{}, err
	}
	if err := s.d.Audit.Before(storage.AuditEntry{Event: "complaint.answered", Outcome: "ok", Case: c.CaseNumber, Transfer: string(c.ID), Court: string(c.Issuer)}); err != nil {
		return ComplaintInfo{}, court.Errorf(court.ErrUnavailable, "complaint %s: the answer cannot be recorded now; nothing was sent, try again", c.ID)
	}
	next, err := s.d.Records.IssueComplaint(ctx, c.ID, &pb.Record{Body: &pb.Record_ComplaintAnswer{ComplaintAnswer: &pb.ComplaintAnswer{SealedText: sealed, Keys: keys}}})
	if err != nil {
		return ComplaintInfo{}, err
	}
	return s.info(next), nil
}

// OverdueComplaints lists, from the index of open complaints by
// answer-by date, up to limit complaints past it that this court
// supervises or is complained of (for the alerts).
func (s *Service) OverdueComplaints(ctx context.Context, limit int) ([]ComplaintInfo, error) {
	today := court.DateOf(s.d.Now())
	var out []ComplaintInfo
	cursor := ""
	for len(out) < limit && ctx.Err() == nil {
		raws, next, err := s.d.Store.Complaints(storage.ComplaintsOpen, "", cursor, 256)
		if err != nil {
			return nil, err
		}
		for _, b := range raws {
			c, err := records.DecodeComplaint(b)
			if err != nil {
				return nil, err
			}
			if !c.Overdue(today) {
				return out, nil // the index runs by answer-by date
			}
			if (c.Supervisor == s.d.Court || c.Complained == s.d.Court) && len(out) < limit {
				out = append(out, s.info(c))
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, ctx.Err()
}

// Indicators computes the complaint indicator of each court this court
// supervises complaints about (from the index by supervisor).
func (s *Service) Indicators(ctx context.Context) ([]Indicator, error) {
	by := map[court.CourtCode]*Indicator{}
	today := court.DateOf(s.d.Now())
	cursor := ""
	for {
		raws, next, err := s.d.Store.Complaints(storage.ComplaintsBySupervisor, string(s.d.Court), cursor, 1000)
		if err != nil {
			return nil, err
		}
		for _, b := range raws {
			c, err := records.DecodeComplaint(b)
			if err != nil {
				return nil, err
			}
			in := by[c.Complained]
			if in == nil {
				in = &Indicator{Court: c.Complained}
				by[c.Complained] = in
			}
			in.Total++
			if c.Answered() {
				in.Answered++
			}
			if c.InTime() {
				in.InTime++
			}
			if c.Overdue(today) {
				in.Overdue++
			}
		}
		if next == "" || ctx.Err() != nil {
			break
		}
		cursor = next
	}
	out := make([]Indicator, 0, len(by))
	for _, in := range by {
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Indicator) int { return strings.Compare(string(a.Court), string(b.Court)) })
	return out, ctx.Err()
}

// Codes issues query codes for case n (see IssueCodes) and audits it.
func (s *Service) Codes(ctx context.Context, n court.CaseNumber, reissue bool) (api.CodesResult, error) {
	return Codes(ctx, s.d.Store, s.d.Audit, n, reissue, s.d.Now())
}

// Codes issues query codes for case n with st (the node's store, or the
// store opened by the offline command line), audited before (case.codes).
func Codes(ctx context.Context, st CodeStore, a audit.Policy, n court.CaseNumber, reissue bool, now time.Time) (api.CodesResult, error) {
	if err := a.Before(storage.AuditEntry{Event: "case.codes", Outcome: "ok", Case: n.String(), Detail: fmt.Sprintf("query codes issued (reissue %t)", reissue)}); err != nil {
		return api.CodesResult{}, court.Errorf(court.ErrUnavailable, "case %s: issuing query codes cannot be recorded now; nothing was issued, try again", n)
	}
	is, err := IssueCodes(ctx, st, n, reissue, now)
	if err != nil {
		return api.CodesResult{}, err
	}
	return api.CodesResult{Case: n.String(), Codes: is}, nil
}
