package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func testDataKey() DataKey {
	var k DataKey
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// TestChunkFrozenVector pins the chunk format: if this changes, sealed
// dossiers already stored or handed over no longer open.
func TestChunkFrozenVector(t *testing.T) {
	t.Parallel()
	doc := []byte("courtmesh frozen vector document")
	s, err := testDataKey().Document(DocumentIDOf(doc))
	if err != nil {
		t.Fatal(err)
	}
	sealed, id, err := s.Seal(nil, 0, 1, doc)
	if err != nil {
		t.Fatal(err)
	}
	const wantSealed = "fc0c9c06fae9648c59fdfb10c0e6c360e262cee845d5ca9f816f549c79bb99eb1056aea5fa3171e8f4fa464456f7ea96"
	const wantID = "4132a8d132136855335d5f060aad9084f531b88e4e21885bedcaa54ff2e53503"
	if got := hex.EncodeToString(sealed); got != wantSealed {
		t.Errorf("sealed = %s, want %s", got, wantSealed)
	}
	if id.String() != wantID {
		t.Errorf("id = %s, want %s", id, wantID)
	}
	if got := MerkleRoot([]ChunkID{{1}, {2}, {3}}); hex.EncodeToString(got[:]) != "d300790a304c441999aa258bb23cd0ad8f2b6ce25f9546894788201bb9bd6ff7" {
		t.Errorf("merkle root = %x", got)
	}
}

func sealAll(t *testing.T, s *DocumentSealer, doc []byte, size int) ([][]byte, []ChunkID) {
	t.Helper()
	n := ChunkCount(int64(len(doc)), size)
	var chunks [][]byte
	var ids []ChunkID
	for i := uint32(0); i < n; i++ {
		lo := int(i) * size
		hi := min(lo+size, len(doc))
		c, id, err := s.Seal(nil, i, n, doc[lo:hi])
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
		ids = append(ids, id)
	}
	return chunks, ids
}

func TestChunkRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	doc := bytes.Repeat([]byte("0123456789abcdef"), 3*MinChunkSize/16+7)
	k := testDataKey()
	s, err := k.Document(DocumentIDOf(doc))
	if err != nil {
		t.Fatal(err)
	}
	chunks, ids := sealAll(t, s, doc, MinChunkSize)
	n := uint32(len(chunks))
	if n != 4 {
		t.Fatalf("chunks = %d, want 4", n)
	}
	var got []byte
	for i, c := range chunks {
		got, err = s.Open(got, ids[i], uint32(i), n, c)
		if err != nil {
			t.Fatalf("open chunk %d: %v", i, err)
		}
	}
	if !bytes.Equal(got, doc) {
		t.Fatal("round trip differs")
	}

	other := append([]byte(nil), doc...)
	other[0] ^= 1
	s2, _ := k.Document(DocumentIDOf(other))
	chunks2, ids2 := sealAll(t, s2, other, MinChunkSize)
	if ids2[1] == ids[1] {
		t.Error("a changed document reuses the chunk id of an unchanged chunk: key not bound to the document")
	}
	flipped := append([]byte(nil), chunks[1]...)
	flipped[3] ^= 0x80

	cases := []struct {
		name        string
		id          ChunkID
		index, cnt  uint32
		sealed      []byte
		wantMessage error
	}{
		{"reordered", ids[2], 1, n, chunks[2], ErrDecrypt},
		{"truncated count", ids[2], 2, 3, chunks[2], ErrDecrypt},
		{"last chunk claimed final early", ids[0], 0, 1, chunks[0], ErrDecrypt},
		{"cross-document swap", ids2[1], 1, n, chunks2[1], ErrDecrypt},
		{"tampered bytes, stale id", ids[1], 1, n, flipped, ErrDecrypt},
		{"tampered bytes, fresh id", ChunkIDOf(flipped), 1, n, flipped, ErrDecrypt},
		{"index out of range", ids[0], n, n, chunks[0], ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Open(nil, tc.id, tc.index, tc.cnt, tc.sealed)
			if !errors.Is(err, tc.wantMessage) {
				t.Fatalf("err = %v, want %v", err, tc.wantMessage)
			}
		})
	}
}

func TestChunkIDIsHashOfSealedBytes(t *testing.T) {
	t.Parallel()
	s, _ := testDataKey().Document(DocumentIDOf([]byte("x")))
	sealed, id, err := s.Seal(nil, 0, 1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if id != ChunkID(sha256.Sum256(sealed)) || !id.Verify(sealed) {
		t.Fatal("chunk id is not the SHA-256 of the sealed bytes")
	}
	p, err := ParseChunkID(id.String())
	if err != nil || p != id {
		t.Fatalf("ParseChunkID(String()) = %v, %v", p, err)
	}
	if _, err := ParseChunkID("zz"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseChunkID(zz) err = %v", err)
	}
}

func TestWrapDataKey(t *testing.T) {
	t.Parallel()
	ek, err := GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	const dossier = "（2024）京0105执1234号"
	w, err := WrapDataKey(ek.KEM(), ek.PublicKey(), PurposeDossier, dossier, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapDataKey(ek, PurposeDossier, dossier, w)
	if err != nil || got != k {
		t.Fatalf("unwrap = %v, %v", got == k, err)
	}
	if _, err := UnwrapDataKey(ek, PurposeDossier, "（2024）京0105执1235号", w); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other dossier: err = %v, want ErrDecrypt", err)
	}
	if _, err := UnwrapDataKey(ek, "other", dossier, w); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other purpose: err = %v, want ErrDecrypt", err)
	}
	if _, err := UnwrapDataKey(other, PurposeDossier, dossier, w); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other recipient: err = %v, want ErrDecrypt", err)
	}
	if s := k.String() + k.GoString(); bytes.Contains([]byte(s), []byte(hex.EncodeToString(k[:4]))) {
		t.Error("DataKey prints key bytes")
	}
}

func TestSealField(t *testing.T) {
	t.Parallel()
	k := testDataKey()
	const label = "party/p1/id_number"
	a, err := k.SealField(label, []byte("99010119900307001X"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.SealField(label, []byte("99010119900307001X"))
	if bytes.Equal(a, b) {
		t.Error("equal values sealed to equal bytes")
	}
	if bytes.Contains(a, []byte("99010119900307001X")) {
		t.Error("plaintext visible in sealed field")
	}
	pt, err := k.OpenField(label, a)
	if err != nil || string(pt) != "99010119900307001X" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	if _, err := k.OpenField("party/p2/id_number", a); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong label: err = %v", err)
	}
	if _, err := k.OpenField(label, a[:5]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short: err = %v", err)
	}
}

func TestMerkleRootShape(t *testing.T) {
	t.Parallel()
	leaf := func(id ChunkID) [32]byte { return sha256.Sum256(append([]byte{0}, id[:]...)) }
	node := func(l, r [32]byte) [32]byte { return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...)) }
	a, b, c := ChunkID{1}, ChunkID{2}, ChunkID{3}
	if got, want := MerkleRoot(nil), sha256.Sum256(nil); got != want {
		t.Error("empty root")
	}
	if got, want := MerkleRoot([]ChunkID{a}), leaf(a); got != want {
		t.Error("single leaf")
	}
	if got, want := MerkleRoot([]ChunkID{a, b, c}), node(node(leaf(a), leaf(b)), leaf(c)); got != want {
		t.Error("three leaves: want RFC 6962 split")
	}
	if MerkleRoot([]ChunkID{a, b}) == MerkleRoot([]ChunkID{b, a}) {
		t.Error("order not bound")
	}
}

func TestChunkSizeBounds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{MinChunkSize, DefaultChunkSize, MaxChunkSize} {
		if err := CheckChunkSize(n); err != nil {
			t.Errorf("%d: %v", n, err)
		}
	}
	for _, n := range []int{0, MinChunkSize - 1, MaxChunkSize + 1} {
		if err := CheckChunkSize(n); err == nil {
			t.Errorf("%d accepted", n)
		}
	}
	if ChunkCount(0, MinChunkSize) != 1 || ChunkCount(MinChunkSize, MinChunkSize) != 1 || ChunkCount(MinChunkSize+1, MinChunkSize) != 2 {
		t.Error("ChunkCount")
	}
}
