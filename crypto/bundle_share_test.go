package crypto

import (
	"bytes"
	"testing"
	"unsafe"

	"courtmesh.dev/courtmesh/court"
)

// TestOpenBundleSharesRaw: an opened bundle holds its certificates'
// payloads, signatures and encryption keys inside Raw, not in copies
// (a national bundle would otherwise be held four times over), and each
// is capped so that appending to it cannot write into Raw.
func TestOpenBundleSharesRaw(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jing := f.issuer("京")
	c1 := f.node("京0105", jing)
	c2 := f.node("京0106", jing)
	b := f.bundle(3, nil, jing, c1, c2)
	raw := bytes.Clone(b.Raw)
	got, err := OpenBundle(f.root.cert, raw)
	if err != nil {
		t.Fatal(err)
	}
	inRaw := func(what string, v []byte) {
		t.Helper()
		if len(v) == 0 {
			t.Fatalf("%s is empty", what)
		}
		start, end := uintptr(unsafe.Pointer(unsafe.SliceData(raw))), uintptr(unsafe.Pointer(unsafe.SliceData(raw)))+uintptr(len(raw))
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(v))); p < start || p+uintptr(len(v)) > end {
			t.Errorf("%s is a copy, not inside Raw", what)
		}
		if cap(v) != len(v) {
			t.Errorf("%s has capacity %d past its %d bytes: an append would write into Raw", what, cap(v), len(v))
		}
	}
	inRaw("the bundle's payload", got.Envelope.Payload)
	encKeys := 0
	for _, c := range got.Certs {
		inRaw(string(c.Code)+"'s certificate payload", c.Envelope.Payload)
		inRaw(string(c.Code)+"'s certificate signature", c.Envelope.Signature)
		if len(c.EncKey) > 0 {
			inRaw(string(c.Code)+"'s encryption key", c.EncKey)
			encKeys++
		}
	}
	if encKeys < 2 {
		t.Fatalf("%d certificates with an encryption key; the fixture's courts have one each", encKeys)
	}
	// Shared, the fields still say what they said.
	for i, c := range got.Certs {
		want := b.Certs[i]
		if !bytes.Equal(c.Envelope.Payload, want.Envelope.Payload) || !bytes.Equal(c.Envelope.Signature, want.Envelope.Signature) || !bytes.Equal(c.EncKey, want.EncKey) {
			t.Errorf("certificate %d (%s) differs from the one bundled", c.Serial, c.Code)
		}
	}
	before := bytes.Clone(raw)
	c := got.Certs[len(got.Certs)-1]
	_ = append(c.EncKey, 0xff)
	_ = append(c.Envelope.Payload, 0xff)
	if !bytes.Equal(raw, before) {
		t.Fatal("an append to a certificate's field wrote into Raw")
	}
	if c.Code != court.CourtCode("京0106") {
		t.Fatalf("last certificate %s", c.Code)
	}
}
