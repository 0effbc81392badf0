package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// RecordVersion is the version of every persisted entity's JSON encoding.
// A record with another version is read through a migration or refused.
const RecordVersion = 1

// CaseStatus is the state of an enforcement case in this court.
type CaseStatus string

// The case statuses.
const (
	StatusActive      CaseStatus = "active"      // 在执: being enforced
	StatusTerminated  CaseStatus = "terminated"  // 终本: current procedure concluded, debtor without property
	StatusConcluded   CaseStatus = "concluded"   // 执行完毕 / 结案
	StatusTransferred CaseStatus = "transferred" // 销案: handed to another court
)

// Valid reports whether s is a defined status.
func (s CaseStatus) Valid() bool {
	switch s {
	case StatusActive, StatusTerminated, StatusConcluded, StatusTransferred:
		return true
	}
	return false
}

// PartyRole is a party's position in the enforcement case.
type PartyRole string

// The party roles.
const (
	RoleApplicant  PartyRole = "applicant"  // 申请执行人
	RoleRespondent PartyRole = "respondent" // 被执行人
)

// PartyKind says what kind of person a party is.
type PartyKind string

// The party kinds.
const (
	PartyNatural PartyKind = "natural" // 自然人
	PartyLegal   PartyKind = "legal"   // 法人
	PartyOther   PartyKind = "other"   // 非法人组织
)

// IDType is the kind of identity number a party carries.
type IDType string

// The identity number types.
const (
	IDResident   IDType = "resident_id" // 居民身份证号码 (GB 11643)
	IDCreditCode IDType = "uscc"        // 统一社会信用代码 (GB 32100)
	IDOtherType  IDType = "other"       // passport or other, not checked
)

// MeasureStatus is the state of a measure.
type MeasureStatus string

// The measure statuses.
const (
	MeasureActive   MeasureStatus = "active"   // in force
	MeasureRenewed  MeasureStatus = "renewed"  // superseded by its renewal (续行), which carries the term on
	MeasureReleased MeasureStatus = "released" // 解除
	MeasureLapsed   MeasureStatus = "lapsed"   // expired unrenewed
	MeasureExecuted MeasureStatus = "executed" // carried out (扣划, or superseded by disposal)
)

// Valid reports whether s is a defined status.
func (s MeasureStatus) Valid() bool {
	switch s {
	case MeasureActive, MeasureRenewed, MeasureReleased, MeasureLapsed, MeasureExecuted:
		return true
	}
	return false
}

// Party is a party to the case as stored: display data only, the identity
// number sealed under the dossier's data key.
type Party struct {
	ID       string    `json:"id"`
	Role     PartyRole `json:"role"`
	Kind     PartyKind `json:"kind"`
	Name     string    `json:"name"`                // as published judgments anonymise it: 张某甲
	IDType   IDType    `json:"id_type,omitempty"`   //
	IDMasked string    `json:"id_masked,omitempty"` // 110***********1234
	IDSealed []byte    `json:"id_sealed,omitempty"` // crypto.DataKey.SealField, label FieldLabel("party", ID, "id_number")
	Phone    string    `json:"phone,omitempty"`     // masked: 138****0000
}

// Title is the enforceable title (执行依据).
type Title struct {
	Kind       string           `json:"kind"` // judgment, ruling, mediation, arbitral_award, notarial_deed, other
	CaseNumber court.CaseNumber `json:"case_number"`
	Issuer     string           `json:"issuer"`
	Effective  court.Date       `json:"effective"`
}

// Asset is a piece of the debtor's property.
type Asset struct {
	ID            string           `json:"id"`
	Class         court.AssetClass `json:"class"`
	Description   string           `json:"description"`
	Owner         string           `json:"owner"`  // party id
	Source        string           `json:"source"` // national_search, local_link, debtor_report, applicant_lead, other
	AccountMasked string           `json:"account_masked,omitempty"`
	AccountSealed []byte           `json:"account_sealed,omitempty"` // label FieldLabel("asset", ID, "account")
	ValueFen      int64            `json:"value_fen,omitempty"`      // estimated value in fen (分)
}

// Measure is an enforcement measure on an asset.
type Measure struct {
	ID        string            `json:"id"`
	Kind      court.MeasureKind `json:"kind"`
	Asset     string            `json:"asset"`
	Effective court.Date        `json:"effective"`
	Expiry    court.Date        `json:"expiry,omitzero"` // zero for kinds without a term
	Renews    string            `json:"renews,omitempty"`
	Releases  string            `json:"releases,omitempty"`
	Rank      int               `json:"rank,omitempty"` // 轮候 order, 1 = first in the waiting line
	Status    MeasureStatus     `json:"status"`
	Court     court.CourtCode   `json:"court"` // the court that holds it
	Document  string            `json:"document,omitempty"`
}

// Document describes one stored document of a dossier.
type Document struct {
	ID        string            `json:"id"` // id within the case
	Kind      string            `json:"kind"`
	Title     string            `json:"title"`
	File      string            `json:"file"` // relative path in the import folder
	Size      int64             `json:"size"`
	Hash      crypto.DocumentID `json:"hash"` // SHA-256 of the plaintext
	ChunkSize int               `json:"chunk_size"`
	Chunks    []crypto.ChunkID  `json:"chunks"`
	Root      string            `json:"root"` // hex of crypto.MerkleRoot(Chunks)
	Internal  bool              `json:"internal,omitempty"`
	Suite     crypto.Suite      `json:"suite"`
}

// CaseVersion is one imported version of a case: the whole dossier as it
// was at that import.
type CaseVersion struct {
	V           int              `json:"v"`
	Number      court.CaseNumber `json:"number"`
	Version     int              `json:"version"` // 1, 2, ...
	ContentHash string           `json:"content_hash"`
	Imported    string           `json:"imported"` // RFC 3339
	Court       court.CourtCode  `json:"court"`
	Status      CaseStatus       `json:"status"`
	Filed       court.Date       `json:"filed"`
	Applied     court.Date       `json:"applied"`
	Noticed     court.Date       `json:"noticed,omitzero"`
	ClaimFen    int64            `json:"claim_fen"`
	Title       Title            `json:"title"`
	Parties     []Party          `json:"parties"`
	Assets      []Asset          `json:"assets"`
	Measures    []Measure        `json:"measures"`
	Documents   []Document       `json:"documents"`
	// Source is the sealed original case.json, kept so that export writes
	// it back byte for byte (it holds identity numbers in clear, hence
	// sealed).
	Source Document `json:"source"`
}

// CaseRecord is the head record of a case: its current version and the
// dossier's wrapped data key.
type CaseRecord struct {
	V           int              `json:"v"`
	Number      court.CaseNumber `json:"number"`
	Court       court.CourtCode  `json:"court"`
	Status      CaseStatus       `json:"status"`
	Version     int              `json:"version"`
	ContentHash string           `json:"content_hash"`
	WrappedKey  []byte           `json:"wrapped_key"` // crypto.WrapDataKey for this court's encryption key
	Created     string           `json:"created"`
	Updated     string           `json:"updated"`
	Respondents []string         `json:"respondents"` // display names, for listings
	// Transfer is, for a case filed from a fetched dossier, the transfer
	// it came by: asset updates of that transfer apply to it, none other.
	Transfer string `json:"transfer,omitempty"`
	// Revision counts the changes made in place to the current version
	// (asset updates, their reverts, status changes): an import checks at
	// its commit that neither the version nor the revision moved while it
	// sealed the documents, and refuses rather than overwrite the change.
	Revision int `json:"revision,omitempty"`
}

// FieldLabel is the label under which a confidential field is sealed.
func FieldLabel(kind, id, field string) string { return kind + "/" + id + "/" + field }

// ContentHash is the hash that decides whether a re-import is a new
// version: SHA-256 over the case.json bytes and the hash of each document
// in order.
func ContentHash(caseJSON []byte, docs []crypto.DocumentID) string {
	h := sha256.New()
	fmt.Fprintf(h, "courtmesh case content v1\x00%d\x00", len(caseJSON))
	h.Write(caseJSON)
	for _, d := range docs {
		h.Write(d[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
