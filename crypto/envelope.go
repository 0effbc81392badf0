package crypto

import (
	"encoding/binary"
	"fmt"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/proto"

	"courtmesh.dev/courtmesh/crypto/cryptopb"
)

// EnvelopeVersion is the version of the envelope format this build writes.
const EnvelopeVersion = 1

// MaxEnvelopeSize bounds an encoded envelope accepted from the network.
// Records are signalling, not bulk data; the trust bundle is the largest
// (3,500 certificates of about 1.6 KiB each) and gets its own bound.
const MaxEnvelopeSize = 64 << 10

// Envelope is a decoded signed record. The raw payload is kept exactly as
// signed so that it can be re-verified years later.
//
// It follows go-libp2p's core/record Envelope (domain separation, payload
// type, signature over length-prefixed fields) but also binds the suite id
// and the signer's certificate serial, and names the signer by serial
// rather than by a libp2p key type, so that an SM2 suite can be added.
type Envelope struct {
	Suite        Suite
	PayloadType  string
	Payload      []byte
	SignerSerial uint64
	Signature    []byte
}

// signedBytes is the message the signature covers: a fixed domain, then
// every field as an unsigned-varint length-prefixed string.
func signedBytes(suite Suite, payloadType string, signer uint64, payload []byte) []byte {
	const domain = "courtmesh/envelope/v1"
	b := make([]byte, 0, len(domain)+len(payloadType)+len(payload)+40)
	b = binary.AppendUvarint(b, uint64(len(domain)))
	b = append(b, domain...)
	b = binary.AppendUvarint(b, uint64(suite))
	b = binary.AppendUvarint(b, uint64(len(payloadType)))
	b = append(b, payloadType...)
	b = binary.AppendUvarint(b, signer)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// Seal signs payload of the given type as the certificate with serial
// signer, using s.
func Seal(s Signer, signer uint64, payloadType string, payload []byte) (*Envelope, error) {
	if err := s.Suite().check(); err != nil {
		return nil, err
	}
	if payloadType == "" {
		return nil, fmt.Errorf("seal: empty payload type: %w", ErrMalformed)
	}
	sig, err := s.Sign(signedBytes(s.Suite(), payloadType, signer, payload))
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", payloadType, err)
	}
	return &Envelope{Suite: s.Suite(), PayloadType: payloadType, Payload: payload, SignerSerial: signer, Signature: sig}, nil
}

// SealMessage marshals m deterministically and seals it.
func SealMessage(s Signer, signer uint64, payloadType string, m proto.Message) (*Envelope, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", payloadType, err)
	}
	return Seal(s, signer, payloadType, b)
}

// VerifyWith checks the signature with the given public key and that the
// payload type is the one expected. It says nothing about whether the key
// is certified: see Trust.Open for that.
func (e *Envelope) VerifyWith(pub lcrypto.PubKey, wantType string) error {
	if err := e.Suite.check(); err != nil {
		return err
	}
	if e.PayloadType != wantType {
		return fmt.Errorf("%w: payload type %q, want %q", ErrMalformed, e.PayloadType, wantType)
	}
	ks, err := SuiteOfKey(pub)
	if err != nil {
		return fmt.Errorf("%s from serial %d: %w", e.PayloadType, e.SignerSerial, err)
	}
	if ks != e.Suite {
		return mixed(fmt.Sprintf("%s from serial %d", e.PayloadType, e.SignerSerial), e.Suite, ks)
	}
	if !verifySignature(pub, signedBytes(e.Suite, e.PayloadType, e.SignerSerial, e.Payload), e.Signature) {
		return fmt.Errorf("%s from serial %d: %w", e.PayloadType, e.SignerSerial, ErrBadSignature)
	}
	return nil
}

// Proto converts to the wire type.
func (e *Envelope) Proto() *cryptopb.Envelope {
	return &cryptopb.Envelope{
		Version:      EnvelopeVersion,
		Suite:        uint32(e.Suite),
		PayloadType:  e.PayloadType,
		Payload:      e.Payload,
		SignerSerial: e.SignerSerial,
		Signature:    e.Signature,
	}
}

// Marshal encodes the envelope.
func (e *Envelope) Marshal() ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(e.Proto())
}

// EnvelopeFromProto converts from the wire type, checking the version.
func EnvelopeFromProto(p *cryptopb.Envelope) (*Envelope, error) {
	if p.GetVersion() != EnvelopeVersion {
		return nil, fmt.Errorf("envelope: %w: version %d", ErrMalformed, p.GetVersion())
	}
	if p.GetPayloadType() == "" || len(p.GetSignature()) == 0 {
		return nil, fmt.Errorf("envelope: %w: missing payload type or signature", ErrMalformed)
	}
	return &Envelope{
		Suite:        Suite(p.GetSuite()),
		PayloadType:  p.GetPayloadType(),
		Payload:      p.GetPayload(),
		SignerSerial: p.GetSignerSerial(),
		Signature:    p.GetSignature(),
	}, nil
}

// UnmarshalEnvelope decodes an envelope of at most max bytes.
func UnmarshalEnvelope(b []byte, max int) (*Envelope, error) {
	if len(b) > max {
		return nil, fmt.Errorf("envelope: %w: %d bytes exceeds the limit of %d", ErrMalformed, len(b), max)
	}
	var p cryptopb.Envelope
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("envelope: %w: %v", ErrMalformed, err)
	}
	return EnvelopeFromProto(&p)
}
