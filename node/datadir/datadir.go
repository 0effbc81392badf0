package datadir

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/crypto/pkcs11key"
	"courtmesh.dev/courtmesh/internal/atomicfile"
	"courtmesh.dev/courtmesh/node/config"
)

// Dir is a node's data directory. It holds, all private to the
// node's user:
//
//	config.toml    the node's configuration (see config.Config)
//	node.key       Ed25519 node key (0600)
//	enc.key        HPKE encryption key (0600)
//	identity.json  the public identity sent to the certificate authority
//	root.cert      the pinned national root certificate
//	bundle.pb      the newest valid trust bundle
//	bundles/       every bundle installed, by sequence (evidence exports)
//	api.token      the local API bearer token (0600)
//	api.sock       the local API Unix socket, while the node runs
//	api.addr       the local API TCP address, while the node runs
//	store/         the Badger store
type Dir string

// File names inside a data directory.
const (
	ConfigFile   = "config.toml"
	IdentityFile = "identity.json"
	RootFile     = "root.cert"
	BundleFile   = "bundle.pb"
	TokenFile    = "api.token"
	SocketFile   = "api.sock"
	AddrFile     = "api.addr"
	StoreDir     = "store"
)

// Path joins name to the directory.
func (d Dir) Path(name string) string { return filepath.Join(string(d), name) }

// ErrNotInitialised: the data directory has no node keys. Kind not
// found: run courtmesh init.
var ErrNotInitialised = court.Errorf(court.ErrNotFound, "data directory not initialised")

// Keys loads the node's transport key (node.key, Ed25519: its libp2p
// identity and peer ID) and its decryption key (enc.key: HPKE under
// suite v1, SM2 under suite sm). Signer loads the key that signs records.
func (d Dir) Keys() (*crypto.NodeKey, crypto.Decrypter, error) {
	if _, err := os.Stat(d.Path(crypto.NodeKeyFile)); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w: run `courtmesh init --data %s`", d, ErrNotInitialised, d)
	}
	nk, err := loadNodeKey(d.Path(crypto.NodeKeyFile))
	if err != nil {
		return nil, nil, err
	}
	ek, err := crypto.LoadDecrypter(d.Path(crypto.EncKeyFile))
	if err != nil {
		return nil, nil, err
	}
	return nk, ek, nil
}

// Suite is the algorithm suite of the directory: the pinned national
// root's, or, before a root is pinned, the keys' (sign.key means sm).
func (d Dir) Suite() (crypto.Suite, error) {
	raw, err := os.ReadFile(d.Path(RootFile))
	if err == nil {
		root, err := ParseRoot(raw)
		if err != nil {
			return 0, err
		}
		return root.Suite, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	if _, err := os.Stat(d.Path(crypto.SignKeyFile)); err == nil {
		return crypto.SuiteSM, nil
	}
	return crypto.SuiteV1, nil
}

// Signer loads the key that signs the node's records, heartbeats and
// identity: node.key itself under suite v1; under suite sm the SM2 key in
// sign.key, paired with node.key (the transport key).
func (d Dir) Signer() (crypto.TransportSigner, error) {
	nk, _, err := d.Keys()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.Path(crypto.SignKeyFile)); errors.Is(err, os.ErrNotExist) {
		return nk, nil
	}
	s, err := crypto.LoadSigner(d.Path(crypto.SignKeyFile))
	if err != nil {
		return nil, err
	}
	return crypto.WithTransport(s, nk), nil
}

// Court returns the court the installed trust bundle certifies this
// node as (read at the bundle's issue, so an expired certificate still
// names its court). It fails when the directory has no keys, pinned root
// or bundle yet.
func (d Dir) Court() (court.CourtCode, error) {
	nk, _, err := d.Keys()
	if err != nil {
		return "", err
	}
	rootRaw, err := os.ReadFile(d.Path(RootFile))
	if err != nil {
		return "", err
	}
	root, err := ParseRoot(rootRaw)
	if err != nil {
		return "", err
	}
	// The bundle in force, deltas included: a court a delta certified
	// has its code here too.
	b, _, err := d.LoadBundle(root, nil)
	if err != nil {
		return "", err
	}
	cert, err := crypto.NewTrust(root, b).ByPeer(nk.PeerID(), b.IssuedAt)
	if err != nil {
		return "", err
	}
	return cert.Code, nil
}

// Token returns the local API bearer token, creating it (0600) if absent.
func (d Dir) Token() (string, error) {
	b, err := os.ReadFile(d.Path(TokenFile))
	if err == nil {
		st, err := os.Stat(d.Path(TokenFile))
		if err != nil {
			return "", err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%s has mode %v: %w; run chmod 600 %s", d.Path(TokenFile), st.Mode().Perm(), crypto.ErrKeyPermissions, d.Path(TokenFile))
		}
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("%s: token too short; delete the file and restart the node to make a new one", d.Path(TokenFile))
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := WriteFileAtomic(d.Path(TokenFile), []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// WriteFileAtomic writes data to path so that a crash leaves either the
// old or the new content and a nil return means it is on disk: the one
// helper the CA's directory uses too (internal/atomicfile.WriteFile:
// temporary file, fsync, rename, fsync of the directory, every error
// returned).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}

// Init creates a data directory with fresh keys of suite v1 and the
// identity file. It refuses a directory that already has keys.
func Init(d Dir) (*crypto.Identity, error) { return InitSuite(d, crypto.SuiteV1) }

// InitSuite is Init for the mesh's suite (the national root's): under
// suite sm it adds an SM2 signing key (sign.key) beside the Ed25519
// transport key, and the encryption key is SM2.
func InitSuite(d Dir, suite crypto.Suite) (*crypto.Identity, error) {
	if err := suite.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.Path(crypto.NodeKeyFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a node key; refusing to replace it (a new key is a new identity that needs a new certificate)", d)
	}
	nk, err := crypto.GenerateNodeKey()
	if err != nil {
		return nil, err
	}
	ek, err := crypto.GenerateDecrypter(suite)
	if err != nil {
		return nil, err
	}
	var signer crypto.TransportSigner = nk
	if suite != crypto.SuiteV1 {
		sk, err := crypto.GenerateSigner(suite)
		if err != nil {
			return nil, err
		}
		if err := crypto.SaveSigner(d.Path(crypto.SignKeyFile), sk); err != nil {
			return nil, err
		}
		signer = crypto.WithTransport(sk, nk)
	}
	if err := crypto.SaveNodeKey(d.Path(crypto.NodeKeyFile), nk); err != nil {
		return nil, err
	}
	if err := crypto.SaveDecrypter(d.Path(crypto.EncKeyFile), ek); err != nil {
		return nil, err
	}
	id, err := crypto.SignIdentity(signer, ek, nil)
	if err != nil {
		return nil, err
	}
	if err := d.writeIdentity(id); err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.Path(ConfigFile)); errors.Is(err, os.ErrNotExist) {
		if err := WriteFileAtomic(d.Path(ConfigFile), []byte(config.DefaultConfigText), 0o600); err != nil {
			return nil, err
		}
	}
	return id, nil
}

func (d Dir) writeIdentity(id *crypto.Identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(d.Path(IdentityFile), append(b, '\n'), 0o644)
}

// SignIdentity rewrites identity.json from the keys in the directory,
// signed by the node key, without a proof of possession (for a directory
// whose enc.key was carried over from an older node, or made by a build
// that wrote unsigned identities).
func SignIdentity(d Dir) (*crypto.Identity, error) {
	_, ek, err := d.Keys()
	if err != nil {
		return nil, err
	}
	sk, err := d.Signer()
	if err != nil {
		return nil, err
	}
	id, err := crypto.SignIdentity(sk, ek, nil)
	if err != nil {
		return nil, err
	}
	return id, d.writeIdentity(id)
}

// Prove answers a certificate authority's proof-of-possession challenge
// with the node's keys and rewrites identity.json, signed by the node key
// and carrying the proof, to be sent back to the authority. A challenge
// made for another node is refused and identity.json is left alone.
func Prove(d Dir, ch *crypto.PossessionChallenge) (*crypto.Identity, error) {
	_, ek, err := d.Keys()
	if err != nil {
		return nil, err
	}
	sk, err := d.Signer()
	if err != nil {
		return nil, err
	}
	id, err := crypto.ProvePossession(sk, ek, ch)
	if err != nil {
		return nil, err
	}
	return id, d.writeIdentity(id)
}

// InstallTrust pins the national root certificate and installs a first
// trust bundle, for a node that is not running. The bundle must verify
// under the root and certify this node.
func InstallTrust(d Dir, rootRaw, bundleRaw []byte) (*crypto.Bundle, *crypto.Certificate, error) {
	root, err := ParseRoot(rootRaw)
	if err != nil {
		return nil, nil, err
	}
	if old, err := os.ReadFile(d.Path(RootFile)); err == nil && string(old) != string(rootRaw) {
		return nil, nil, fmt.Errorf("%s pins a different national root; remove it by hand only if the national operator has told you to re-pin", d.Path(RootFile))
	}
	signer, err := d.Signer()
	if err != nil {
		return nil, nil, err
	}
	if signer.Suite() != root.Suite {
		return nil, nil, fmt.Errorf("this data directory's keys are of suite %s but the national root runs suite %s: %w; make the node's keys with `courtmesh init --data NEW_DIR --root ROOT_CERT`", signer.Suite().Name(), root.Suite.Name(), crypto.ErrMixedSuite)
	}
	b, err := crypto.OpenBundle(root, bundleRaw)
	if err != nil {
		return nil, nil, err
	}
	nk, _, err := d.Keys()
	if err != nil {
		return nil, nil, err
	}
	self, err := crypto.NewTrust(root, b).ByPeer(nk.PeerID(), b.IssuedAt)
	if err != nil {
		return nil, nil, fmt.Errorf("the bundle does not certify this node (%s): %w; send %s to the certificate authority", nk.PeerID(), err, d.Path(IdentityFile))
	}
	// The installed bundle and its deltas were verified when installed:
	// their sequence is all that is needed here.
	if cur := d.InstalledSequence(); cur > b.Sequence {
		return nil, nil, fmt.Errorf("bundle %d is older than the installed bundle %d: %w", b.Sequence, cur, crypto.ErrStale)
	}
	if err := WriteFileAtomic(d.Path(RootFile), rootRaw, 0o644); err != nil {
		return nil, nil, err
	}
	if err := WriteFileAtomic(d.Path(BundleFile), bundleRaw, 0o644); err != nil {
		return nil, nil, err
	}
	if err := KeepBundle(d, b.Sequence, bundleRaw); err != nil {
		return nil, nil, err
	}
	return b, self, nil
}

// ParseRoot decodes a self-signed national root certificate.
func ParseRoot(raw []byte) (*crypto.Certificate, error) {
	env, err := crypto.UnmarshalEnvelope(raw, crypto.MaxEnvelopeSize)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	root, err := crypto.ParseCertificate(env)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	if !root.SelfSigned() || !root.HasRole(crypto.RoleRoot) {
		return nil, fmt.Errorf("root certificate: %w: not a self-signed root", crypto.ErrNotAuthorised)
	}
	if err := root.VerifyIssuedBy(root); err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	return root, nil
}

// loadNodeKey loads node.key: a key file, or a reference to a key in a
// PKCS#11 token (opened with the PIN from its PIN file or the
// environment).
func loadNodeKey(path string) (*crypto.NodeKey, error) {
	ref, pub, ok, err := crypto.ReadTokenKeyRef(path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return crypto.LoadNodeKey(path)
	}
	k, err := pkcs11key.Open(pkcs11key.Ref{Module: ref.Module, Token: ref.Token, Label: ref.Label, PINFile: ref.PINFile})
	if err != nil {
		return nil, fmt.Errorf("node key in PKCS#11 token %q: %w", ref.Token, err)
	}
	if !k.GetPublic().Equals(pub) {
		return nil, court.Errorf(court.ErrConflict, "PKCS#11 token %q holds a key labelled %q that is not this node's (%s names another public key): is it the right token?", ref.Token, ref.Label, path)
	}
	return crypto.NodeKeyFromLibp2p(k)
}

// TokenOptions name the PKCS#11 token a new node key is made in.
type TokenOptions struct {
	Module  string // path of the PKCS#11 module
	Token   string // token label
	Label   string // key label; empty: "courtmesh node key"
	PINFile string // a file holding the PIN; empty: the environment (pkcs11key.PINEnv)
}

// InitToken is Init (suite v1) with the node key generated in a PKCS#11
// token: node.key then holds only a reference to it. The encryption key
// stays in enc.key (the HPKE KEM of suite v1 is not a PKCS#11 mechanism).
func InitToken(d Dir, o TokenOptions) (*crypto.Identity, error) {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.Path(crypto.NodeKeyFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a node key; refusing to replace it (a new key is a new identity that needs a new certificate)", d)
	}
	k, err := pkcs11key.Generate(pkcs11key.Ref{Module: o.Module, Token: o.Token, Label: o.Label, PINFile: o.PINFile})
	if err != nil {
		return nil, err
	}
	r := k.Ref()
	nk, err := crypto.NodeKeyFromLibp2p(k)
	if err != nil {
		return nil, err
	}
	ek, err := crypto.GenerateEncKey()
	if err != nil {
		return nil, err
	}
	if err := crypto.SaveTokenKeyRef(d.Path(crypto.NodeKeyFile), crypto.TokenKeyRef{Module: r.Module, Token: r.Token, Label: r.Label, PINFile: r.PINFile}, k.GetPublic()); err != nil {
		return nil, err
	}
	if err := crypto.SaveEncKey(d.Path(crypto.EncKeyFile), ek); err != nil {
		return nil, err
	}
	id, err := crypto.SignIdentity(nk, ek, nil)
	if err != nil {
		return nil, err
	}
	if err := d.writeIdentity(id); err != nil {
		return nil, err
	}
	if _, err := os.Stat(d.Path(ConfigFile)); errors.Is(err, os.ErrNotExist) {
		if err := WriteFileAtomic(d.Path(ConfigFile), []byte(config.DefaultConfigText), 0o600); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// BundlesDir keeps every trust bundle the node installed, so that its
// evidence exports can show the bundle in force when each record was
// signed (bundle.pb holds only the newest): bundles/<sequence, 20
// digits>.pb, exactly as signed.
const BundlesDir = "bundles"

// KeepBundle adds raw, a verified bundle of that sequence, to the history
// (a bundle already kept is left as it is).
func KeepBundle(d Dir, seq uint64, raw []byte) error {
	if err := os.MkdirAll(d.Path(BundlesDir), 0o755); err != nil {
		return fmt.Errorf("keep trust bundle %d: %w", seq, err)
	}
	p := filepath.Join(d.Path(BundlesDir), fmt.Sprintf("%020d.pb", seq))
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := WriteFileAtomic(p, raw, 0o644); err != nil {
		return fmt.Errorf("keep trust bundle %d: %w", seq, err)
	}
	return nil
}

// KeptBundles returns the kept bundles, oldest first, and the bundle in
// force (bundle.pb) if the history lacks it; they are not verified here.
func KeptBundles(d Dir) ([][]byte, error) {
	ents, err := os.ReadDir(d.Path(BundlesDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out [][]byte
	for _, e := range ents { // ReadDir sorts by name: by sequence
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pb") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(d.Path(BundlesDir), e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	cur, err := os.ReadFile(d.Path(BundleFile))
	if err != nil {
		return nil, fmt.Errorf("the trust bundle in force: %w", err)
	}
	for _, raw := range out {
		if string(raw) == string(cur) {
			return out, nil
		}
	}
	return append(out, cur), nil
}
