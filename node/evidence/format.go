package evidence

import (
	"encoding/base64"
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/storage"
)

// Format is the value of File.Format this build writes and reads.
const Format = "courtmesh-evidence/v1"

// PayloadHead is the envelope payload type of the audit head an export
// signs (a protocol Heartbeat message carrying the audit length and
// head). It differs from the heartbeat's payload type so that a head
// signed for evidence can never be taken for a heartbeat on the mesh.
const PayloadHead = "courtmesh/evidence-head/v1"

// MaxFileSize bounds an evidence file read by Verify.
const MaxFileSize = 256 << 20

// File is an evidence file: one JSON object, described field by field in
// docs/evidence.md. Every binary part is a signed envelope, exactly as
// signed, in standard base64 (Blob). Notes are informational and not
// checked.
type File struct {
	Format     string    `json:"format"`
	Transfer   string    `json:"transfer"`
	ExportedAt time.Time `json:"exported_at"`
	// Exporter names the court and the certificate serial of the node
	// that wrote the file; its key signed Audit.Head.
	Exporter Exporter `json:"exporter"`
	// Root is the national root certificate the exporter pins. A verifier
	// given the root compares it byte for byte; one that is not uses it
	// and prints its fingerprint to be compared with the published one.
	Root Blob `json:"root"`
	// Bundles are the trust bundles the exporter installed, by sequence.
	Bundles []Blob `json:"bundles"`
	// Certificates are the certificates of every record's signer and of
	// the exporter, each with its issuer's unless the root issued it.
	Certificates []Blob `json:"certificates"`
	// Records are the transfer's signed records in the transfer's order.
	Records []Blob `json:"records"`
	Audit   Audit  `json:"audit"`
}

// Exporter names the node that wrote the file.
type Exporter struct {
	Court  string `json:"court"`
	Serial uint64 `json:"certificate_serial"`
}

// Blob is one signed part: its bytes in standard base64 and a note.
type Blob struct {
	Note string `json:"note,omitempty"`
	B64  string `json:"b64"`
}

// NewBlob encodes raw.
func NewBlob(note string, raw []byte) Blob {
	return Blob{Note: note, B64: base64.StdEncoding.EncodeToString(raw)}
}

// Bytes decodes the blob.
func (b Blob) Bytes() ([]byte, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(b.B64)
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return raw, nil
}

// Audit is the exporter's audit log from the first entry concerning the
// transfer to the head at the export, with the head signed and the
// newest head the exporter published to the mesh.
type Audit struct {
	// Prev is the hash the first entry links to ("" at the start of the
	// log).
	Prev string `json:"prev"`
	// Entries are contiguous, in order (storage.AuditEntry).
	Entries []storage.AuditEntry `json:"entries"`
	// Concerning are the sequences of the entries naming the transfer.
	Concerning []uint64 `json:"concerning"`
	// Head is a PayloadHead envelope signed by the exporter: the length
	// and hash of the log when the file was written (the last entry).
	Head Blob `json:"head"`
	// Witnessed is the newest heartbeat (courtmesh/heartbeat/v1) the
	// exporter published on the mesh before the export, if any: its
	// audit length and head (and checkpoints) are what the other courts
	// of the province witnessed and keep.
	Witnessed *Blob `json:"witnessed,omitempty"`
}
