package storage

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// Dossier is what a handover needs to know about a case's current version:
// its sealed chunks in order, the data key, and the asset and measure
// snapshot.
type Dossier struct {
	Case      CaseRecord
	Version   CaseVersion
	Chunks    []crypto.ChunkID // every document's chunks, documents in order, the sealed case.json last
	Bytes     uint64           // plaintext bytes of all documents
	Key       crypto.DataKey
	Snapshot  []byte   // canonical JSON of the assets and measures
	Documents []string // document titles and kinds, for the sealed detail
	// Suite is the algorithm suite of the chunks (zero: crypto.SuiteV1).
	Suite crypto.Suite
}

// Root is the Merkle root over the dossier's chunk IDs, in its suite.
func (d *Dossier) Root() [32]byte { return d.Suite.MerkleRoot(d.Chunks) }

// SnapshotHash is the SHA-256 of the asset and measure snapshot.
func (d *Dossier) SnapshotHash() [32]byte { return sha256.Sum256(d.Snapshot) }

// Dossier gathers the handover facts of case n. It needs the court's
// decryption key to unwrap the data key.
func (db *DB) Dossier(n court.CaseNumber) (*Dossier, error) {
	head, v, err := db.Case(n)
	if err != nil {
		return nil, err
	}
	dk, err := db.dataKey(head)
	if err != nil {
		return nil, err
	}
	d := &Dossier{Case: head, Version: v, Key: dk, Suite: db.suite}
	docs := append(append([]Document(nil), v.Documents...), v.Source)
	for _, doc := range docs {
		d.Chunks = append(d.Chunks, doc.Chunks...)
		d.Bytes += uint64(doc.Size)
		if !doc.Internal {
			d.Documents = append(d.Documents, fmt.Sprintf("%s\t%s\t%d", doc.Kind, doc.Title, doc.Size))
		}
	}
	snap := struct {
		Assets   []court.Asset   `json:"assets"`
		Measures []court.Measure `json:"measures"`
	}{v.Assets, v.Measures}
	if d.Snapshot, err = json.Marshal(snap); err != nil {
		return nil, err
	}
	return d, nil
}
