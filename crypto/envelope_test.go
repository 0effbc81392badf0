package crypto

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "signer")
	tests := []struct {
		name    string
		typ     string
		serial  uint64
		payload []byte
	}{
		{"small", "courtmesh/test/v1", 42, []byte("京0105 移交 (2026)京0105执123号")},
		{"empty payload", "courtmesh/test/v1", 1, nil},
		{"serial zero", "courtmesh/test/v1", 0, []byte{0}},
		{"max serial", "courtmesh/test/v1", ^uint64(0), []byte{1, 2, 3}},
		{"unicode type", "courtmesh/案件/v1", 7, []byte("x")},
		{"near the limit", "courtmesh/test/v1", 9, bytes.Repeat([]byte{0xa5}, MaxEnvelopeSize-200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Seal(key, tt.serial, tt.typ, tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.VerifyWith(key.Public(), tt.typ); err != nil {
				t.Fatalf("VerifyWith after Seal: %v", err)
			}
			raw, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalEnvelope(raw, MaxEnvelopeSize)
			if err != nil {
				t.Fatalf("UnmarshalEnvelope: %v", err)
			}
			if got.Suite != SuiteV1 || got.PayloadType != tt.typ || got.SignerSerial != tt.serial ||
				!bytes.Equal(got.Payload, tt.payload) || !bytes.Equal(got.Signature, env.Signature) {
				t.Fatalf("round trip changed the envelope: %+v", got)
			}
			if err := got.VerifyWith(key.Public(), tt.typ); err != nil {
				t.Fatalf("VerifyWith after round trip: %v", err)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, raw) {
				t.Fatalf("re-encoding differs (%v)", err)
			}
		})
	}
}

func TestSealMessage(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "signer")
	m := &cryptopb.Revocation{Serial: 9, RevokedAt: 1700000000, Reason: "key lost"}
	env, err := SealMessage(key, 3, "courtmesh/revocation/v1", m)
	if err != nil {
		t.Fatal(err)
	}
	var got cryptopb.Revocation
	if err := proto.Unmarshal(env.Payload, &got); err != nil || !proto.Equal(&got, m) {
		t.Fatalf("payload %v (%v), want %v", &got, err, m)
	}
	if err := env.VerifyWith(key.Public(), "courtmesh/revocation/v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(key, 3, "", nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Seal with an empty type: got %v, want ErrMalformed", err)
	}
}

// TestEnvelopeForgery changes one thing in a signed envelope at a time;
// each change must break verification.
func TestEnvelopeForgery(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "signer")
	other := testNodeKey(t, "other")
	const typ = "courtmesh/test/v1"
	env, err := Seal(key, 1234, typ, []byte("(2026)京0105执123号"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mod     func(e *Envelope)
		want    string // the type the verifier asks for; empty: the envelope's own
		pub     *NodeKey
		wantErr error
	}{
		{name: "genuine"},
		{name: "payload byte", mod: func(e *Envelope) { e.Payload = flipByte(e.Payload, 5) }, wantErr: ErrBadSignature},
		{name: "payload extended", mod: func(e *Envelope) { e.Payload = append(e.Payload[:len(e.Payload):len(e.Payload)], 0) }, wantErr: ErrBadSignature},
		{name: "payload truncated", mod: func(e *Envelope) { e.Payload = e.Payload[:len(e.Payload)-1] }, wantErr: ErrBadSignature},
		{name: "first signature byte", mod: func(e *Envelope) { e.Signature = flipByte(e.Signature, 0) }, wantErr: ErrBadSignature},
		{name: "last signature byte", mod: func(e *Envelope) { e.Signature = flipByte(e.Signature, len(e.Signature)-1) }, wantErr: ErrBadSignature},
		{name: "signature truncated", mod: func(e *Envelope) { e.Signature = e.Signature[:len(e.Signature)-1] }, wantErr: ErrBadSignature},
		{name: "payload type byte", mod: func(e *Envelope) { e.PayloadType = "courtmesh/test/v2" }, wantErr: ErrBadSignature},
		{name: "payload type other than wanted", want: "courtmesh/other/v1", wantErr: ErrMalformed},
		{name: "signer serial", mod: func(e *Envelope) { e.SignerSerial ^= 1 }, wantErr: ErrBadSignature},
		{name: "suite relabelled SM", mod: func(e *Envelope) { e.Suite = SuiteSM }, wantErr: ErrMixedSuite},
		{name: "suite unknown", mod: func(e *Envelope) { e.Suite = 99 }, wantErr: ErrUnsupportedSuite},
		{name: "suite zero", mod: func(e *Envelope) { e.Suite = 0 }, wantErr: ErrUnsupportedSuite},
		{name: "another key", pub: other, wantErr: ErrBadSignature},
		{name: "payload moved into the type", mod: func(e *Envelope) {
			e.PayloadType, e.Payload = e.PayloadType+string(e.Payload[:1]), e.Payload[1:]
		}, wantErr: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := *env
			if tt.mod != nil {
				tt.mod(&e)
			}
			want := tt.want
			if want == "" {
				want = e.PayloadType
			}
			pub := key
			if tt.pub != nil {
				pub = tt.pub
			}
			check := func(where string, e *Envelope) {
				t.Helper()
				err := e.VerifyWith(pub.Public(), want)
				if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
					t.Fatalf("%s: VerifyWith: got %v, want %v", where, err, tt.wantErr)
				}
			}
			check("in memory", &e)
			// The same must hold after the tampered envelope is sent.
			raw, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalEnvelope(raw, MaxEnvelopeSize)
			if err != nil {
				t.Fatalf("UnmarshalEnvelope: %v", err)
			}
			check("on the wire", got)
		})
	}
	if env.Payload[5] != []byte("(2026)京0105执123号")[5] {
		t.Fatal("a test case changed the shared envelope")
	}
}

// TestEnvelopeWireForgery flips every byte of an encoded envelope: each
// flip must either fail to decode or fail to verify.
func TestEnvelopeWireForgery(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "signer")
	env, err := Seal(key, 77, "courtmesh/test/v1", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	raw := mustMarshalEnv(t, env)
	for i := range raw {
		e, err := UnmarshalEnvelope(flipByte(raw, i), MaxEnvelopeSize)
		if err != nil {
			continue
		}
		if err := e.VerifyWith(key.Public(), "courtmesh/test/v1"); err == nil {
			t.Fatalf("flipping byte %d of %d still verifies", i, len(raw))
		}
	}
}

func TestUnmarshalEnvelopeRejects(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "signer")
	env, err := Seal(key, 77, "courtmesh/test/v1", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	raw := mustMarshalEnv(t, env)

	t.Run("every prefix", func(t *testing.T) {
		for n := 0; n < len(raw); n++ {
			if e, err := UnmarshalEnvelope(raw[:n], MaxEnvelopeSize); !errors.Is(err, ErrMalformed) {
				t.Fatalf("first %d of %d bytes: got %+v, %v, want ErrMalformed", n, len(raw), e, err)
			}
		}
		if _, err := UnmarshalEnvelope(raw, MaxEnvelopeSize); err != nil {
			t.Fatalf("whole envelope: %v", err)
		}
	})
	big, err := Seal(key, 77, "courtmesh/test/v1", bytes.Repeat([]byte{1}, MaxEnvelopeSize))
	if err != nil {
		t.Fatal(err)
	}
	bigRaw := mustMarshalEnv(t, big)
	tests := []struct {
		name string
		raw  []byte
		max  int
	}{
		{"empty", nil, MaxEnvelopeSize},
		{"garbage", []byte("\xff\xff\xff\xff"), MaxEnvelopeSize},
		{"oversized envelope", bigRaw, MaxEnvelopeSize},
		{"oversized zeros", make([]byte, MaxEnvelopeSize+1), MaxEnvelopeSize},
		{"one byte over a caller's limit", raw, len(raw) - 1},
		{"version 0", envelopeWire(t, env, func(p *cryptopb.Envelope) { p.Version = 0 }), MaxEnvelopeSize},
		{"version 2", envelopeWire(t, env, func(p *cryptopb.Envelope) { p.Version = 2 }), MaxEnvelopeSize},
		{"no payload type", envelopeWire(t, env, func(p *cryptopb.Envelope) { p.PayloadType = "" }), MaxEnvelopeSize},
		{"no signature", envelopeWire(t, env, func(p *cryptopb.Envelope) { p.Signature = nil }), MaxEnvelopeSize},
		{"invalid UTF-8 type", badUTF8Type(t, env), MaxEnvelopeSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalEnvelope(tt.raw, tt.max); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	// The limit is inclusive.
	if _, err := UnmarshalEnvelope(raw, len(raw)); err != nil {
		t.Fatalf("envelope of exactly the limit: %v", err)
	}
	if _, err := UnmarshalEnvelope(bigRaw, len(bigRaw)); err != nil {
		t.Fatalf("big envelope under a larger limit: %v", err)
	}
}

// envelopeWire encodes env's wire form after mod, bypassing Marshal's checks.
func envelopeWire(tb testing.TB, env *Envelope, mod func(p *cryptopb.Envelope)) []byte {
	tb.Helper()
	p := env.Proto()
	mod(p)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// badUTF8Type encodes env with a payload type that is not UTF-8, which
// proto refuses to encode: the byte is spliced in after encoding.
func badUTF8Type(tb testing.TB, env *Envelope) []byte {
	tb.Helper()
	b := envelopeWire(tb, env, func(p *cryptopb.Envelope) { p.PayloadType = "\x01" })
	// Field 3 (payload_type), wire type 2, length 1, the byte.
	out := bytes.Replace(b, []byte{0x1a, 0x01, 0x01}, []byte{0x1a, 0x01, 0xff}, 1)
	if bytes.Equal(out, b) {
		tb.Fatal("payload type not found in the encoding")
	}
	return out
}
