package api

// The case endpoints: the court's own store, behind the node. Paths in
// requests are absolute paths on the node's machine, read or written by
// the node process itself.
//
//	POST /v1/cases/import              ImportRequest -> ImportResult (422: ValidationProblem)
//	GET  /v1/cases?status=S            -> []CaseSummary
//	GET  /v1/cases/{number}?as_of=D&purpose=P&reveal=1 -> CaseDetail (number URL-escaped; personal data masked unless reveal=1, which needs a purpose; audited)
//	GET  /v1/cases/{number}/verify     -> VerifyResult
//	POST /v1/cases/{number}/export     ExportRequest -> ExportResult (under exports_dir only; audited)
//	GET  /v1/measures/expiring?within=N&as_of=D -> ExpiringResult
//	POST /v1/backup                    BackupRequest -> BackupResult
//
// Dates are YYYY-MM-DD; as_of defaults to today in China time. Amounts
// are in fen (分).

// MaxCaseRequestBody bounds the JSON body of every case endpoint: they
// carry a path or two, never a dossier.
const MaxCaseRequestBody = 64 << 10

// ImportRequest is the body of POST /v1/cases/import.
type ImportRequest struct {
	// Path is the absolute path of a case folder or .zip on the node's
	// machine (required).
	Path string `json:"path"`
	// MaxDocumentSize is the largest document accepted, in bytes; zero
	// means the importer's default (2 GiB).
	MaxDocumentSize int64 `json:"max_document_size,omitempty"`
}

// ImportResult says what an import did.
type ImportResult struct {
	Case      string   `json:"case"`
	Version   int      `json:"version"`   // the version now current
	Unchanged bool     `json:"unchanged"` // the same content was already stored; nothing written
	Documents int      `json:"documents"`
	Bytes     int64    `json:"bytes"`
	Chunks    int      `json:"chunks"`
	NewChunks int      `json:"new_chunks"`
	Warnings  []string `json:"warnings,omitempty"`
}

// FieldProblem is one problem with an imported case, located by the JSON
// path of the field in case.json (measures[2].expiry) or, for archive
// problems, by "zip:" and the entry name.
type FieldProblem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationProblem is the error body of an import refused because the
// case is not valid (422): the usual code and message (which lists every
// problem too), the source, and each problem apart. Nothing was written.
type ValidationProblem struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Source  string         `json:"source"`
	Fields  []FieldProblem `json:"fields"`
}

// CaseSummary is one case in a listing.
type CaseSummary struct {
	Case        string   `json:"case"`
	Court       string   `json:"court"`
	Status      string   `json:"status"`
	Version     int      `json:"version"`
	Respondents []string `json:"respondents"` // masked: 张**
	Created     string   `json:"created"`     // RFC 3339
	Updated     string   `json:"updated"`     // RFC 3339
}

// CaseDetail is the current version of a case with personal data
// masked: names as 张**, identity and account numbers and phones in their
// masked forms, and names, plates, long numbers and addresses below the
// district hidden in asset descriptions and document titles. Revealed
// (?reveal=1&purpose=P, audited), names and texts are as stored and the
// identity and account numbers are unsealed.
type CaseDetail struct {
	Case      string        `json:"case"`
	Court     string        `json:"court"`
	CourtName string        `json:"court_name,omitempty"`
	Status    string        `json:"status"`
	Version   int           `json:"version"`
	Imported  string        `json:"imported"` // RFC 3339
	Filed     string        `json:"filed"`
	Applied   string        `json:"applied"`
	Noticed   string        `json:"noticed,omitempty"`
	ClaimFen  int64         `json:"claim_fen"`
	AsOf      string        `json:"as_of"`    // the reference date of days_left
	Revealed  bool          `json:"revealed"` // personal data shown unmasked (?reveal=1, audited)
	Title     TitleInfo     `json:"title"`
	Parties   []PartyInfo   `json:"parties"`
	Assets    []AssetInfo   `json:"assets"`
	Measures  []MeasureInfo `json:"measures"`
	Documents []DocInfo     `json:"documents"`
}

// TitleInfo is the enforceable title (执行依据).
type TitleInfo struct {
	Kind       string `json:"kind"`
	CaseNumber string `json:"case_number"`
	Issuer     string `json:"issuer"`
	Effective  string `json:"effective"`
}

// PartyInfo is a party as displayed: masked name and numbers unless
// revealed.
type PartyInfo struct {
	ID       string `json:"id"`
	Role     string `json:"role"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	IDType   string `json:"id_type,omitempty"`
	IDMasked string `json:"id_masked,omitempty"`
	IDNumber string `json:"id_number,omitempty"` // only when revealed
	Phone    string `json:"phone,omitempty"`     // masked (only the masked form is stored)
}

// AssetInfo is an asset as displayed.
type AssetInfo struct {
	ID            string `json:"id"`
	Class         string `json:"class"`
	ClassLabel    string `json:"class_label"`
	Description   string `json:"description"`
	Owner         string `json:"owner"`
	Source        string `json:"source"`
	AccountMasked string `json:"account_masked,omitempty"`
	Account       string `json:"account,omitempty"` // only when revealed
	ValueFen      int64  `json:"value_fen,omitempty"`
}

// MeasureInfo is a measure as displayed.
type MeasureInfo struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	KindLabel string `json:"kind_label"`
	Asset     string `json:"asset"`
	Effective string `json:"effective"`
	Expiry    string `json:"expiry,omitempty"`
	// DaysLeft is set for active measures with a term: days from as_of to
	// the expiry, negative once past.
	DaysLeft *int   `json:"days_left,omitempty"`
	Status   string `json:"status"`
	Court    string `json:"court"`
	Rank     int    `json:"rank,omitempty"`
	Renews   string `json:"renews,omitempty"`
	Releases string `json:"releases,omitempty"`
	Document string `json:"document,omitempty"`
}

// DocInfo is a stored document.
type DocInfo struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Title  string `json:"title"`
	File   string `json:"file"`
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
	Hash   string `json:"sha256"`
}

// VerifyResult says what a verification read back: every chunk's hash
// and seal and every document's size and hash checked, case.json
// included.
type VerifyResult struct {
	Case      string `json:"case"`
	Version   int    `json:"version"`
	Documents int    `json:"documents"`
	Chunks    int    `json:"chunks"`
	Bytes     int64  `json:"bytes"`
}

// ExportRequest is the body of POST /v1/cases/{number}/export.
type ExportRequest struct {
	// Out is the absolute path of the folder to write, on the node's
	// machine; it must be absent or empty, inside the exports folder
	// (config exports_dir) and never inside the data directory
	// (required).
	Out string `json:"out"`
	// Purpose says why the case leaves the store, for the audit log
	// (required; at most 200 characters, no personal data).
	Purpose string `json:"purpose"`
}

// ExportResult says what an export wrote, every chunk verified.
type ExportResult struct {
	Case      string `json:"case"`
	Out       string `json:"out"`
	Documents int    `json:"documents"`
	Chunks    int    `json:"chunks"`
	Bytes     int64  `json:"bytes"`
}

// ExpiringMeasure is an active measure with its days to expiry.
type ExpiringMeasure struct {
	Case            string `json:"case"`
	Measure         string `json:"measure"`
	Kind            string `json:"kind"`
	KindLabel       string `json:"kind_label"`
	AssetClass      string `json:"asset_class"`
	AssetClassLabel string `json:"asset_class_label"`
	Effective       string `json:"effective"`
	Expiry          string `json:"expiry"`
	DaysLeft        int    `json:"days_left"` // negative once past: the measure may have lapsed
	Court           string `json:"court"`
}

// ExpiringResult answers GET /v1/measures/expiring: the active measures
// expiring on or before Until, soonest first.
type ExpiringResult struct {
	AsOf     string            `json:"as_of"`
	Within   int               `json:"within"`
	Until    string            `json:"until"`
	Measures []ExpiringMeasure `json:"measures"`
}

// BackupRequest is the body of POST /v1/backup.
type BackupRequest struct {
	// Out is the absolute path of the backup file to create on the node's
	// machine; it must not exist (required).
	Out string `json:"out"`
}

// BackupResult says what a backup wrote.
type BackupResult struct {
	Out   string `json:"out"`
	Bytes int64  `json:"bytes"`
}
