// Package cases is the court's own case store as a service: import,
// listing, display, verification, export, the expiry watch and backup,
// answered in the local API's wire types (node/api). The node serves it
// over the local API (api.RegisterCases); `courtmesh case ...`,
// `courtmesh measures expiring` and `courtmesh backup` use it directly
// when the node is stopped, so that both give the same answers and the
// same errors.
//
// # Model
//
// A case lives in the store as numbered versions (storage.DB.PutCase):
// the case record (court.Case: parties, assets, measures, title, status)
// and its documents as sealed chunks. An import validates a case folder
// or .zip whole (storage/importer) and stores a new version, or nothing;
// the same content again writes nothing ("unchanged"). A court imports
// only its own cases: the Service knows its court (Deps.Court), and
// refuses to import unchecked when that court should be known but cannot
// be read (Deps.CourtErr).
//
// # The re-import check
//
// A transfer takes a case out of the court's hands. Before storing a new
// version, Import asks the transfer index by case number
// (storage.DB.TransfersByCase, through InFlight) which transfers in
// flight name the number, so that the check reads a few records however
// long the court's history:
//
//   - at the origin, a case handed over (or received) is refused: the
//     receiver enforces it now;
//   - at the receiver, while the transfer is not closed, an import that
//     changes the assets or measures is refused: those change only through
//     asset updates, which reach the origin too;
//   - a new case may not take the number a pending acceptance gave the
//     case it is bringing.
//
// The workflow's acceptance asks InFlight the same question about the
// number it is given.
//
// # Errors and data
//
// Errors carry court's kinds (court.ErrInvalid, ErrNotFound,
// ErrConflict, ErrUnavailable), or an *importer.ValidationError listing
// every problem, and name the case and what to do next. Paths are
// absolute paths on the node's machine. List and Show mask personal data
// (court.MaskName, court.MaskText); Show with reveal unmasks it for a
// stated purpose, audited (case.shown) before anything is shown; nothing
// the service logs names a party.
package cases
