// Package crypto holds courtmesh's keys, certificates, trust bundle,
// signed envelopes and sealing.
//
// # Keys
//
// Each node has two private keys in its data directory, written 0600 and
// refused if readable by others: an Ed25519 node key (NodeKey), which is
// the node's libp2p peer ID and signs its records, and an HPKE key
// (EncKey, ML-KEM-768+X25519 by default: dossiers must stay confidential
// for decades, so key wrapping is post-quantum hybrid) to which dossier
// data keys are wrapped. Callers use them only through the Signer and
// Decrypter interfaces, so that a hardware module can replace the files
// (crypto/pkcs11key keeps the Ed25519 node key in a PKCS#11 token).
//
// # Suites
//
// A mesh runs one algorithm suite, its national root's: SuiteV1 (Ed25519,
// HPKE ML-KEM-768+X25519, AES-256-GCM, SHA-256) or SuiteSM (SM2 with the
// default user ID, SM2-based key wrapping, SM4-GCM, SM3; see sm.go). The
// suite is the root certificate's envelope suite; every certificate,
// bundle, record and identity of the mesh must carry it, and anything of
// the other suite is refused with ErrMixedSuite. Under SuiteSM the node
// has three keys: the Ed25519 transport key (libp2p has no SM2 key type,
// so it stays the peer ID and secures the connection), the SM2 signing
// key (records, heartbeats, certificates) and the SM2 encryption key; the
// certificate binds all three and the identity file is signed by both
// signing keys. Hashes follow the suite where the suite decides them:
// chunk ids, document ids and Merkle roots (Suite.ChunkID,
// Suite.MerkleRoot).
//
// # Envelopes
//
// Every signed object is an Envelope: a payload (protobuf, kept exactly as
// signed), its payload type, the suite id and the signer's certificate
// serial, signed together under a fixed domain string. The shape follows
// go-libp2p's core/record Envelope; it is our own because it must bind the
// suite id and the certificate serial and must not depend on libp2p's key
// types, so that a national-cryptography suite (SM2/SM3/SM4, SuiteSM) can
// sit beside SuiteV1.
//
// # Certificates and the chain
//
// The national root (offline) signs its own certificate, the certificates
// of province-limited issuers (a high court whose scope is its own code:
// 京 may certify 京0105, never 沪0101) and court certificates. An issuer
// certifies only courts; only the root issues issuer and operator
// certificates; the chain is at most root -> issuer -> court. A court
// certificate binds court code, name, level, parent court (authoritative:
// in the municipalities the real intermediate court does not follow the
// code prefix), peer ID, encryption key, roles and validity.
//
// # The trust bundle
//
// The root signs a Bundle: a strictly increasing sequence, issue and
// expiry times, every certificate (the root's first) and every
// revocation. OpenBundle verifies the whole chain; Trust is the immutable
// view of the bundle in force that admission and record validation ask.
// A node warns BundleWarnBefore (7 days) ahead of expiry, keeps working for
// BundleGrace (3 days) after it, and then fails closed: it admits nobody
// until a newer bundle arrives. A revoked certificate is never admitted
// again; revoking an issuer revokes the courts it certified.
package crypto

//go:generate sh -c "../tools/protoc --plugin=protoc-gen-go=$(go env GOPATH)/bin/protoc-gen-go --go_out=. --go_opt=module=courtmesh.dev/courtmesh/crypto -I . cryptopb/crypto.proto"
