package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/node/advice"
	"courtmesh.dev/courtmesh/node/api"
)

// DecidePath is the decide view: GET DecidePath?transfer=ID shows the
// superior court the ranking of the courts it may designate, with the
// factors of each (node/advice), in zh or en. It is a view: the decision
// itself is taken with `courtmesh transfer decide` or POST
// /v1/transfers/{id}/decide, naming the inputs hash shown.
const DecidePath = "/dashboard/decide"

var decideTemplate = template.Must(template.New("decide.html").Funcs(template.FuncMap{
	"f2": func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"f3": func(x float64) string { return fmt.Sprintf("%.3f", x) },
}).ParseFS(templateFS, "templates/decide.html"))

// DecideHandler serves the decide view. It sits behind the API's
// authentication (the dashboard's session cookie opens it).
type DecideHandler struct {
	recommend func(context.Context, court.TransferID) (advice.Recommendation, error)
	transfer  func(court.TransferID) (api.Transfer, error)
	name      func(court.CourtCode) string
	log       *slog.Logger
}

// NewDecideHandler returns the decide view over the node's
// recommendation and transfer reads; name gives a court's name ("" if
// unknown; nil for none).
func NewDecideHandler(recommend func(context.Context, court.TransferID) (advice.Recommendation, error), transfer func(court.TransferID) (api.Transfer, error), name func(court.CourtCode) string, log *slog.Logger) *DecideHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if name == nil {
		name = func(court.CourtCode) string { return "" }
	}
	return &DecideHandler{recommend: recommend, transfer: transfer, name: name, log: log}
}

// decidePage is the decide template's view.
type decidePage struct {
	Lang, Other string
	X           api.Transfer
	R           advice.Recommendation
	Rows        []decideRow
	Holdings    []holdingRow
	Command     string
}

type decideRow struct {
	advice.Entry
	Name, Why string
}

type holdingRow struct {
	api.RegionAssets
	BandText string
}

// T translates a key into the page's language.
func (p decidePage) T(key string) string { return translate(p.Lang, key) }

// ServeHTTP renders the view of ?transfer=ID.
func (h *DecideHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lang, ok := pageLang(w, r)
	if !ok {
		return
	}
	id, err := court.ParseTransferID(r.URL.Query().Get("transfer"))
	if err != nil {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "transfer=%q: %v", r.URL.Query().Get("transfer"), err))
		return
	}
	t, err := h.transfer(id)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	rec, err := h.recommend(r.Context(), id)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	p := decidePage{Lang: lang, Other: LangEN, X: t, R: rec}
	if lang == LangEN {
		p.Other = LangZH
	}
	for _, e := range rec.Ranking {
		row := decideRow{Entry: e, Name: h.name(e.Court)}
		if !e.Eligible {
			row.Why = translate(lang, "excluded."+string(e.ExcludedCode))
		}
		p.Rows = append(p.Rows, row)
	}
	for _, ra := range t.RegionAssets {
		p.Holdings = append(p.Holdings, holdingRow{RegionAssets: ra, BandText: court.ValueBand(ra.Band).String()})
	}
	to := "COURT"
	if b, ok := rec.Best(); ok {
		to = string(b.Court)
	}
	p.Command = fmt.Sprintf("courtmesh transfer decide --mode designated --to %s --recommendation %s --decision NUMBER %s", to, rec.InputsHash, id)
	var buf bytes.Buffer
	if err := decideTemplate.Execute(&buf, p); err != nil {
		h.log.Error("decide view template", "reason", err)
		api.WriteError(w, api.Errorf(http.StatusInternalServerError, api.CodeInternal, "the decide view could not be rendered"))
		return
	}
	writePage(w, buf.Bytes())
}
