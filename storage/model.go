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
	Status      court.CaseStatus `json:"status"`
	Filed       court.Date       `json:"filed"`
	Applied     court.Date       `json:"applied"`
	Noticed     court.Date       `json:"noticed,omitzero"`
	ClaimFen    int64            `json:"claim_fen"`
	// OriginClaimFen is, for a case filed from a transferred dossier, the
	// claim the origin court filed; ClaimFen is then the balance still
	// unrecovered at the handover. Zero otherwise.
	OriginClaimFen int64           `json:"origin_claim_fen,omitempty"`
	Title          court.Title     `json:"title"`
	Parties        []court.Party   `json:"parties"`
	Assets         []court.Asset   `json:"assets"`
	Measures       []court.Measure `json:"measures"`
	// Searches are the property searches run in the case, by the court
	// that holds it and, for a case filed from a transferred dossier, by
	// the origin before it (they travel in the sealed case record).
	Searches  []court.Search `json:"searches,omitempty"`
	Documents []Document     `json:"documents"`
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
	Status      court.CaseStatus `json:"status"`
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

// Case returns the case as the rules of package court see it: this
// version without its documents.
func (v CaseVersion) Case() court.Case {
	return court.Case{Number: v.Number, Court: v.Court, Status: v.Status, Filed: v.Filed, Applied: v.Applied, Noticed: v.Noticed,
		ClaimFen: v.ClaimFen, Title: v.Title, Parties: v.Parties, Assets: v.Assets, Measures: v.Measures, Searches: v.Searches}
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
