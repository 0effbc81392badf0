// Package ca keeps a certificate authority's directory: the national
// root's (or a province issuer's) signing key, its certificate, the
// certificates it issued, its revocations and, for the root, the trust
// bundle sequence.
//
//	ca.key        signing key (0600): Ed25519 for suite v1, SM2 for suite sm
//	ca.cert       this authority's certificate (self-signed for the root)
//	root.cert     the national root certificate (same as ca.cert for the root)
//	identity.json the public identity (an issuer sends it to the root)
//	state.json    bundle sequence and revocations, with the last trusted
//	              head of a revoked key's record log (root only)
//	pop.key       secret for proof-of-possession challenges (0600; made
//	              by the first Challenge)
//	issued/       every certificate issued, one file per serial
//	bundle.last   the last bundle signed, with bundle.last.deltas (the
//	              deltas signed on it) and bundle.last.certs (the
//	              certificates already verified: a cache)
//
// The root key is meant to live on an offline machine; the commands here
// never need a network.
//
// Every file is written whole or not at all, and fsynced with its
// directory before a call returns: a bundle sequence handed out is never
// handed out again after a crash, and a certificate in issued/ is never
// replaced (a second certificate with the same serial is refused).
package ca

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/internal/atomicfile"
)

// File names in a CA directory.
const (
	KeyFile      = "ca.key"
	CertFile     = "ca.cert"
	RootFile     = "root.cert"
	IdentityFile = "identity.json"
	StateFile    = "state.json"
	PopKeyFile   = "pop.key"
	IssuedDir    = "issued"
)

// State is the root's mutable state.
type State struct {
	Version        int          `json:"version"`
	BundleSequence uint64       `json:"bundle_sequence"`
	Revocations    []Revocation `json:"revocations"`
}

// Revocation is a revocation as kept in state.json. LastTrustedSeq and
// LastTrustedHead (hex), if set, pin the last trusted head of the
// certificate's record log (crypto.Revocation.LastTrusted); a state file
// holding one is version 2.
type Revocation struct {
	Serial          uint64    `json:"serial"`
	RevokedAt       time.Time `json:"revoked_at"`
	Reason          string    `json:"reason"`
	LastTrustedSeq  uint64    `json:"last_trusted_seq,omitempty"`
	LastTrustedHead string    `json:"last_trusted_head,omitempty"`
}

// LastTrusted returns the pinned log position, or nil for a key revoked
// from the start.
func (r Revocation) LastTrusted() (*crypto.LogPosition, error) {
	if r.LastTrustedSeq == 0 && r.LastTrustedHead == "" {
		return nil, nil
	}
	h, err := hex.DecodeString(r.LastTrustedHead)
	if err != nil || len(h) != 32 || r.LastTrustedSeq == 0 {
		return nil, court.Errorf(court.ErrCorrupt, "revocation of serial %d: last trusted position %d, head %q", r.Serial, r.LastTrustedSeq, r.LastTrustedHead)
	}
	return &crypto.LogPosition{Seq: r.LastTrustedSeq, Head: [32]byte(h)}, nil
}

// CA is an opened authority directory.
type CA struct {
	dir  string
	key  crypto.Signer
	Cert *crypto.Certificate // this authority
	Root *crypto.Certificate // the national root

	idxMu sync.Mutex
	idx   *index // issued/, loaded once (index.go)
}

// ErrNotReady: the directory has a key but no certificate yet. Kind
// unavailable: it works once the root's certificate is installed.
var ErrNotReady = court.Errorf(court.ErrUnavailable, "authority has no certificate yet")

// InitRoot creates a national root of suite v1 in an empty directory.
func InitRoot(dir, name string, notBefore time.Time, validity time.Duration) (*CA, error) {
	return InitRootSuite(dir, name, notBefore, validity, crypto.SuiteV1)
}

// InitRootSuite creates a national root of the given suite: the suite of
// the whole mesh it certifies.
func InitRootSuite(dir, name string, notBefore time.Time, validity time.Duration, suite crypto.Suite) (*CA, error) {
	key, err := initKey(dir, suite)
	if err != nil {
		return nil, err
	}
	id, err := crypto.NewIdentity(key, nil)
	if err != nil {
		return nil, err
	}
	cert, err := crypto.Issue(key, nil, crypto.Template{
		Code: court.Supreme, Name: name, Identity: &crypto.Identity{SigningKey: id.SigningKey},
		Roles: []crypto.Role{crypto.RoleRoot, crypto.RoleIssuer}, Scope: court.Supreme,
		NotBefore: notBefore, NotAfter: notBefore.Add(validity),
	})
	if err != nil {
		return nil, err
	}
	raw, err := cert.Envelope.Marshal()
	if err != nil {
		return nil, err
	}
	for _, f := range []string{CertFile, RootFile} {
		if err := atomicfile.WriteFile(filepath.Join(dir, f), raw, 0o644); err != nil {
			return nil, err
		}
	}
	if err := saveState(dir, State{Version: 1}); err != nil {
		return nil, err
	}
	return &CA{dir: dir, key: key, Cert: cert, Root: cert}, nil
}

// InitIssuer creates a signing key for a province issuer and returns its
// identity, to be certified by the root (Issue with RoleIssuer) and then
// installed with InstallCert.
func InitIssuer(dir string) (*crypto.Identity, error) { return InitIssuerSuite(dir, crypto.SuiteV1) }

// InitIssuerSuite is InitIssuer for a mesh of the given suite (the root's).
func InitIssuerSuite(dir string, suite crypto.Suite) (*crypto.Identity, error) {
	key, err := initKey(dir, suite)
	if err != nil {
		return nil, err
	}
	return crypto.SignIdentity(key, nil, nil)
}

// SignIdentityFile rewrites dir's identity.json signed by its key, for a
// directory made by a build that wrote unsigned (version 1) identities.
func SignIdentityFile(dir string) (*crypto.Identity, error) {
	key, err := crypto.LoadSigner(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	return writeIdentity(dir, key)
}

// writeIdentity writes dir's identity.json, signed by the authority's key.
func writeIdentity(dir string, key crypto.Signer) (*crypto.Identity, error) {
	id, err := crypto.SignIdentity(key, nil, nil)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return nil, err
	}
	return id, atomicfile.WriteFile(filepath.Join(dir, IdentityFile), append(b, '\n'), 0o644)
}

func initKey(dir string, suite crypto.Suite) (crypto.Signer, error) {
	if err := os.MkdirAll(filepath.Join(dir, IssuedDir), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		return nil, court.Errorf(court.ErrConflict, "%s already holds an authority key; refusing to replace it", dir)
	}
	key, err := crypto.GenerateSigner(suite)
	if err != nil {
		return nil, err
	}
	if err := crypto.SaveSigner(filepath.Join(dir, KeyFile), key); err != nil {
		return nil, err
	}
	if _, err := writeIdentity(dir, key); err != nil {
		return nil, err
	}
	return key, nil
}

// InstallCert installs the issuer certificate the root issued for this
// directory's key, with the root certificate it chains to.
func InstallCert(dir string, certRaw, rootRaw []byte) error {
	key, err := crypto.LoadSigner(filepath.Join(dir, KeyFile))
	if err != nil {
		return err
	}
	root, err := parseCert(rootRaw)
	if err != nil {
		return fmt.Errorf("root certificate: %w", err)
	}
	if err := root.VerifyIssuedBy(root); err != nil || !root.HasRole(crypto.RoleRoot) {
		return fmt.Errorf("root certificate is not a self-signed national root: %v", err)
	}
	cert, err := parseCert(certRaw)
	if err != nil {
		return err
	}
	if !cert.SigningKey.Equals(key.Public()) {
		return fmt.Errorf("certificate %d does not certify this directory's key", cert.Serial)
	}
	if err := cert.VerifyIssuedBy(root); err != nil {
		return err
	}
	if !cert.HasRole(crypto.RoleIssuer) {
		return fmt.Errorf("certificate %d has no issuer role", cert.Serial)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, RootFile), rootRaw, 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, CertFile), certRaw, 0o644)
}

// Open opens an authority directory.
func Open(dir string) (*CA, error) {
	key, err := crypto.LoadSigner(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	certRaw, err := os.ReadFile(filepath.Join(dir, CertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w; have the root issue a certificate for %s and install it", dir, ErrNotReady, filepath.Join(dir, IdentityFile))
	}
	if err != nil {
		return nil, err
	}
	cert, err := parseCert(certRaw)
	if err != nil {
		return nil, err
	}
	rootRaw, err := os.ReadFile(filepath.Join(dir, RootFile))
	if err != nil {
		return nil, err
	}
	root, err := parseCert(rootRaw)
	if err != nil {
		return nil, err
	}
	if !cert.SigningKey.Equals(key.Public()) {
		return nil, fmt.Errorf("%s: certificate and key do not match", dir)
	}
	return &CA{dir: dir, key: key, Cert: cert, Root: root}, nil
}

// IsRoot reports whether this is the national root.
func (ca *CA) IsRoot() bool { return ca.Cert.HasRole(crypto.RoleRoot) }

// Issue certifies t, keeps a copy in issued/ and returns the certificate.
// A serial already issued here is refused (court.ErrConflict) and the
// certificate on file is kept. So is an identity whose node key or
// encryption key is already in a live certificate (not revoked, not
// expired) this authority issued to another court (court.ErrConflict,
// naming that court).
//
// Issue trusts the caller that t.Identity's keys belong to the subject:
// in-process harnesses that generated the keys themselves use it. An
// identity that came from outside (a file) goes through IssueProven.
func (ca *CA) Issue(t crypto.Template) (*crypto.Certificate, error) {
	if t.Identity != nil {
		if err := ca.checkKeysFree(t, time.Now()); err != nil {
			return nil, err
		}
	}
	c, err := crypto.Issue(ca.key, ca.Cert, t)
	if err != nil {
		return nil, err
	}
	raw, err := c.Envelope.Marshal()
	if err != nil {
		return nil, err
	}
	err = atomicfile.CreateFile(filepath.Join(ca.dir, IssuedDir, certFileName(c.Serial)), raw, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, court.Errorf(court.ErrConflict, "certificate serial %d was already issued by %s; the certificate on file is kept", c.Serial, ca.dir)
	}
	if err != nil {
		return nil, err
	}
	if err := ca.indexIssued(c, certFileName(c.Serial)); err != nil {
		return nil, fmt.Errorf("certificate %d issued, but the index of %s was not updated (it is rebuilt at the next use): %w", c.Serial, ca.dir, err)
	}
	return c, nil
}

// IssueProven is Issue for an identity read from a file: it must be
// signed by its node key and, if it has an encryption key, carry a proof
// of possession answering this authority's Challenge. Otherwise it is
// refused (court.ErrInvalid) with what to run.
func (ca *CA) IssueProven(t crypto.Template) (*crypto.Certificate, error) {
	if t.Identity == nil {
		return nil, court.Errorf(court.ErrInvalid, "issue %s: no identity", t.Code)
	}
	if err := ca.CheckIdentity(t.Identity); err != nil {
		return nil, err
	}
	return ca.Issue(t)
}

// CheckIdentity checks id's signature and its proof of possession for
// this authority.
func (ca *CA) CheckIdentity(id *crypto.Identity) error {
	if err := id.VerifySignature(); err != nil {
		return err
	}
	if len(id.EncKey) == 0 {
		return nil
	}
	pk, err := ca.popKey(false)
	if err != nil {
		return err
	}
	if pk == nil {
		return fmt.Errorf("identity %s: %w: this authority has made no challenge yet", id.PeerID, crypto.ErrNoPossessionProof)
	}
	return id.CheckPossession(ca.Cert.Serial, crypto.PossessionSecret(pk, ca.Cert.Serial, id))
}

// Challenge makes the proof-of-possession challenge for id's encryption
// key. The node answers it with crypto.ProvePossession. Whether the keys
// are free is checked at issue, when the court is named (a node of the
// same court may carry its encryption key over to a new node key).
func (ca *CA) Challenge(id *crypto.Identity) (*crypto.PossessionChallenge, error) {
	if len(id.EncKey) == 0 {
		return nil, court.Errorf(court.ErrInvalid, "identity %s has no encryption key: an issuer's identity needs no challenge, only its signature", id.PeerID)
	}
	pk, err := ca.popKey(true)
	if err != nil {
		return nil, err
	}
	return crypto.NewPossessionChallenge(ca.Cert.Serial, crypto.PossessionSecret(pk, ca.Cert.Serial, id), id)
}

// popKey reads (or, with create, makes) the authority's PoP key. It is
// nil without error when there is none and create is false.
func (ca *CA) popKey(create bool) ([]byte, error) {
	p := filepath.Join(ca.dir, PopKeyFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && create {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := atomicfile.CreateFile(p, k, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		b, err = os.ReadFile(p)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authority PoP key: %w", err)
	}
	if len(b) != 32 {
		return nil, court.Errorf(court.ErrCorrupt, "authority PoP key %s: %d bytes, want 32", p, len(b))
	}
	return b, nil
}

// checkKeysFree refuses t if its node key or encryption key is in a live
// certificate issued here to a court other than t.Code.
func (ca *CA) checkKeysFree(t crypto.Template, now time.Time) error {
	x, err := ca.index()
	if err != nil {
		return err
	}
	revs, err := ca.Revocations()
	if err != nil {
		return err
	}
	sk, err := t.Identity.SigningKey.Raw()
	if err != nil {
		return err
	}
	ca.idxMu.Lock()
	defer ca.idxMu.Unlock()
	check := func(which string, serials []uint64) error {
		for _, s := range serials {
			e := x.bySerial[s]
			if _, gone := revs[s]; gone || e.Code == string(t.Code) || now.Unix() >= e.NotAfter {
				continue
			}
			return court.Errorf(court.ErrConflict, "the %s of identity %s is already certified to %s (serial %d): a court's keys are its own; the court runs `courtmesh init` on its own machine, or serial %d is revoked first", which, t.Identity.PeerID, e.Code, s, s)
		}
		return nil
	}
	if err := check("node (signing) key", x.bySign[keyDigest(sk)]); err != nil {
		return err
	}
	if len(t.Identity.EncKey) > 0 {
		return check("encryption key", x.byEnc[keyDigest(t.Identity.EncKey)])
	}
	return nil
}

// Live lists the certificates issued here that are neither revoked nor
// expired at now.
func (ca *CA) Live(now time.Time) ([]*crypto.Certificate, error) {
	issued, err := ca.Issued()
	if err != nil {
		return nil, err
	}
	revs, err := ca.Revocations()
	if err != nil {
		return nil, err
	}
	var out []*crypto.Certificate
	for _, c := range issued {
		if _, gone := revs[c.Serial]; gone || !now.Before(c.NotAfter) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Revocations returns the revocations kept here by serial; empty for a
// province issuer (only the root keeps revocations).
func (ca *CA) Revocations() (map[uint64]Revocation, error) {
	out := map[uint64]Revocation{}
	if _, err := os.Stat(filepath.Join(ca.dir, StateFile)); errors.Is(err, os.ErrNotExist) && !ca.IsRoot() {
		return out, nil
	}
	st, err := loadState(ca.dir)
	if err != nil {
		return nil, err
	}
	for _, r := range st.Revocations {
		out[r.Serial] = r
	}
	return out, nil
}

// Issued lists the certificates in issued/. Temporary files a crash left
// behind are not certificates and are skipped.
func (ca *CA) Issued() ([]*crypto.Certificate, error) {
	ents, err := os.ReadDir(filepath.Join(ca.dir, IssuedDir))
	if err != nil {
		return nil, err
	}
	var out []*crypto.Certificate
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(ca.dir, IssuedDir, e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := parseCert(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	return out, nil
}

// Revoke records a revocation from the start of the key's log: none of the
// records it signed stays trusted. The next bundle carries it. Root only.
func (ca *CA) Revoke(serial uint64, reason string, at time.Time) error {
	return ca.RevokeAfter(serial, reason, at, nil)
}

// RevokeAfter records a revocation that keeps the key's record log trusted
// up to lastTrusted (nil: from the start, as Revoke). The next bundle
// carries it. Revoking a serial again changes nothing, except that a
// revocation from the start may be given a last trusted position later
// (the operator learned the head); two different positions conflict.
// Root only.
func (ca *CA) RevokeAfter(serial uint64, reason string, at time.Time, lastTrusted *crypto.LogPosition) error {
	if !ca.IsRoot() {
		return court.Errorf(court.ErrPermission, "only the national root revokes; send the serial %d to the national operator", serial)
	}
	if serial == ca.Cert.Serial {
		return court.Errorf(court.ErrInvalid, "the root cannot revoke itself")
	}
	st, err := loadState(ca.dir)
	if err != nil {
		return err
	}
	if lastTrusted != nil && lastTrusted.Seq == 0 {
		return court.Errorf(court.ErrInvalid, "revoke serial %d: the last trusted position is a record number from 1; to trust none of its records, revoke from the start", serial)
	}
	nr := Revocation{Serial: serial, RevokedAt: at.UTC().Truncate(time.Second), Reason: reason}
	if lastTrusted != nil {
		nr.LastTrustedSeq, nr.LastTrustedHead = lastTrusted.Seq, hex.EncodeToString(lastTrusted.Head[:])
	}
	for i, r := range st.Revocations {
		if r.Serial != serial {
			continue
		}
		was, err := r.LastTrusted()
		switch {
		case err != nil:
			return err
		case lastTrusted == nil || (was != nil && *was == *lastTrusted):
			return nil
		case was != nil:
			return court.Errorf(court.ErrConflict, "serial %d is already revoked with last trusted record %s; a revocation's trusted part is not moved", serial, was)
		}
		// Revoked from the start until now: keep the date, pin the head.
		st.Revocations[i].LastTrustedSeq, st.Revocations[i].LastTrustedHead = nr.LastTrustedSeq, nr.LastTrustedHead
		return saveState(ca.dir, st)
	}
	st.Revocations = append(st.Revocations, nr)
	return saveState(ca.dir, st)
}

// Bundle signs the next trust bundle: every certificate issued here that
// has not expired, plus extra (certificates issued by province issuers,
// checked against the chain), and every revocation. Root only.
func (ca *CA) Bundle(now time.Time, validity time.Duration, extra []*crypto.Certificate) (*crypto.Bundle, error) {
	if !ca.IsRoot() {
		return nil, court.Errorf(court.ErrPermission, "only the national root signs trust bundles")
	}
	st, err := loadState(ca.dir)
	if err != nil {
		return nil, err
	}
	issued, err := ca.Issued()
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	var certs []*crypto.Certificate
	for _, c := range append(issued, extra...) {
		if seen[c.Serial] || !now.Before(c.NotAfter) {
			continue
		}
		seen[c.Serial] = true
		certs = append(certs, c)
	}
	revs := make([]crypto.Revocation, len(st.Revocations))
	for i, r := range st.Revocations {
		last, err := r.LastTrusted()
		if err != nil {
			return nil, err
		}
		revs[i] = crypto.Revocation{Serial: r.Serial, RevokedAt: r.RevokedAt, Reason: r.Reason, LastTrusted: last}
	}
	b, err := crypto.BuildBundleCached(ca.key, ca.Cert, st.BundleSequence+1, now, now.Add(validity), certs, revs, ca.certCache())
	if err != nil {
		return nil, err
	}
	st.BundleSequence = b.Sequence
	if err := saveState(ca.dir, st); err != nil {
		return nil, err
	}
	if err := ca.keepLast(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseCertFile decodes a certificate file (without chain checks).
func ParseCertFile(raw []byte) (*crypto.Certificate, error) { return parseCert(raw) }

func parseCert(raw []byte) (*crypto.Certificate, error) {
	env, err := crypto.UnmarshalEnvelope(raw, crypto.MaxEnvelopeSize)
	if err != nil {
		return nil, err
	}
	return crypto.ParseCertificate(env)
}

func loadState(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return st, fmt.Errorf("CA state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, court.Errorf(court.ErrCorrupt, "CA state %s: %w", filepath.Join(dir, StateFile), err)
	}
	if st.Version != 1 && st.Version != 2 {
		return st, court.Errorf(court.ErrCorrupt, "CA state %s: version %d, this build reads versions 1 and 2", filepath.Join(dir, StateFile), st.Version)
	}
	for _, r := range st.Revocations {
		if _, err := r.LastTrusted(); err != nil {
			return st, fmt.Errorf("CA state %s: %w", filepath.Join(dir, StateFile), err)
		}
	}
	return st, nil
}

// saveState writes st as version 1, or 2 when a revocation pins a last
// trusted log head (an older build, which would drop it, refuses it).
func saveState(dir string, st State) error {
	st.Version = 1
	for _, r := range st.Revocations {
		if r.LastTrustedSeq != 0 || r.LastTrustedHead != "" {
			st.Version = 2
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, StateFile), append(b, '\n'), 0o600)
}
