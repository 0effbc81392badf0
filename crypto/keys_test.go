package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
)

func TestNodeKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", NodeKeyFile)
	k, err := GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveNodeKey(path, k); err != nil {
		t.Fatalf("SaveNodeKey: %v", err)
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	got, err := LoadNodeKey(path)
	if err != nil {
		t.Fatalf("LoadNodeKey: %v", err)
	}
	if got.PeerID() != k.PeerID() || !got.Public().Equals(k.Public()) {
		t.Fatal("loaded key differs")
	}
	msg := []byte("m")
	sig, err := got.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := k.Public().Verify(msg, sig); !ok || err != nil {
		t.Fatalf("loaded key signs for another public key: %v", err)
	}

	// No overwrite: the existing key stays as it was.
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveNodeKey(path, k2); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveNodeKey over an existing key: got %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("SaveNodeKey changed an existing key file")
	}

	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o660, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadNodeKey(path); !errors.Is(err, ErrKeyPermissions) {
			t.Errorf("LoadNodeKey of a %v file: got %v, want ErrKeyPermissions", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadNodeKey(path); err != nil {
		t.Errorf("LoadNodeKey of a 0400 file: %v", err)
	}
}

func TestEncKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, EncKeyFile)
	k := testEncKey(t, "file")
	if err := SaveEncKey(path, k); err != nil {
		t.Fatalf("SaveEncKey: %v", err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("enc key file: %v, %v", st.Mode(), err)
	}
	got, err := LoadEncKey(path)
	if err != nil {
		t.Fatalf("LoadEncKey: %v", err)
	}
	if !bytes.Equal(got.PublicKey(), k.PublicKey()) {
		t.Fatal("loaded key has another public key")
	}
	ct, err := Wrap(k.KEM(), k.PublicKey(), []byte("info"), []byte("data key"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := got.Open([]byte("info"), ct); err != nil || string(pt) != "data key" {
		t.Fatalf("loaded key opens %q, %v", pt, err)
	}
	if err := SaveEncKey(path, k); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveEncKey over an existing key: got %v, want fs.ErrExist", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadEncKey(path); !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("LoadEncKey of a 0644 file: got %v, want ErrKeyPermissions", err)
	}
}

func TestLoadKeyRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodePath := filepath.Join(dir, "node")
	encPath := filepath.Join(dir, "enc")
	if err := SaveNodeKey(nodePath, testNodeKey(t, "x")); err != nil {
		t.Fatal(err)
	}
	if err := SaveEncKey(encPath, testEncKey(t, "x")); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		load    func(string) error
		wantErr error
	}{
		{"missing node key", filepath.Join(dir, "none"), loadNode, fs.ErrNotExist},
		{"enc key as node key", encPath, loadNode, ErrUnsupportedSuite},
		{"node key as enc key", nodePath, loadEnc, ErrUnsupportedSuite},
		{"not JSON", write("a", "not json"), loadNode, ErrMalformed},
		{"version 2", write("b", `{"version":2,"type":"ed25519","key":""}`), loadNode, ErrMalformed},
		{"no version", write("c", `{"type":"ed25519","key":""}`), loadNode, ErrMalformed},
		{"bad base64", write("d", `{"version":1,"type":"ed25519","key":"!!"}`), loadNode, ErrMalformed},
		{"not a key", write("e", `{"version":1,"type":"ed25519","key":"AAAA"}`), loadNode, ErrMalformed},
		{"bad enc key", write("f", `{"version":1,"type":"hpke-kem-0x647a","key":"AAAA"}`), loadEnc, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.load(tt.path); !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
		})
	}

	// A secp256k1 key in a node key file is refused.
	priv, _, err := lcrypto.GenerateSecp256k1Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NodeKeyFromLibp2p(priv); !errors.Is(err, ErrUnsupportedSuite) {
		t.Fatalf("NodeKeyFromLibp2p(secp256k1): got %v, want ErrUnsupportedSuite", err)
	}
}

func loadNode(p string) error { _, err := LoadNodeKey(p); return err }
func loadEnc(p string) error  { _, err := LoadEncKey(p); return err }

func TestWrapOpen(t *testing.T) {
	t.Parallel()
	k := testEncKey(t, "reader")
	other := testEncKey(t, "other reader")
	info := []byte("courtmesh/dossier-key/v1 (2026)京0105执123号")
	dataKey := bytes.Repeat([]byte{0x42}, 32)
	ct, err := Wrap(k.KEM(), k.PublicKey(), info, dataKey)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if pt, err := k.Open(info, ct); err != nil || !bytes.Equal(pt, dataKey) {
		t.Fatalf("Open: %x, %v", pt, err)
	}
	ct2, err := Wrap(k.KEM(), k.PublicKey(), info, dataKey)
	if err != nil || bytes.Equal(ct, ct2) {
		t.Fatalf("two wraps of the same key are equal (%v)", err)
	}
	tests := []struct {
		name string
		key  *EncKey
		info []byte
		ct   []byte
	}{
		{"wrong info", k, []byte("courtmesh/dossier-key/v1 (2026)京0105执124号"), ct},
		{"no info", k, nil, ct},
		{"wrong key", other, info, ct},
		{"flipped last byte", k, info, flipByte(ct, len(ct)-1)},
		{"flipped enc byte", k, info, flipByte(ct, 10)},
		{"truncated", k, info, ct[:len(ct)-1]},
		{"enc only", k, info, ct[:1120]},
		{"empty", k, info, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pt, err := tt.key.Open(tt.info, tt.ct); err == nil {
				t.Fatalf("Open succeeded: %x", pt)
			}
		})
	}
	if _, err := Wrap(0x0020, k.PublicKey(), info, dataKey); !errors.Is(err, ErrUnsupportedSuite) {
		t.Errorf("Wrap to an X25519 KEM id: got %v, want ErrUnsupportedSuite", err)
	}
	if _, err := Wrap(k.KEM(), k.PublicKey()[:100], info, dataKey); !errors.Is(err, ErrMalformed) {
		t.Errorf("Wrap to a short key: got %v, want ErrMalformed", err)
	}
	// PublicKey returns a copy.
	pub := k.PublicKey()
	pub[0] ^= 1
	if bytes.Equal(pub, k.PublicKey()) {
		t.Error("PublicKey exposes the key's own slice")
	}
}

func TestIdentityJSON(t *testing.T) {
	t.Parallel()
	key := testNodeKey(t, "id")
	enc := testEncKey(t, "id")
	full, err := NewIdentity(key, enc)
	if err != nil {
		t.Fatal(err)
	}
	signOnly, err := NewIdentity(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]*Identity{"with encryption key": full, "signing key only": signOnly} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(id)
			if err != nil {
				t.Fatal(err)
			}
			var got Identity
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal %s: %v", b, err)
			}
			if got.PeerID != key.PeerID() || !got.SigningKey.Equals(key.Public()) || got.EncKEM != id.EncKEM || !bytes.Equal(got.EncKey, id.EncKey) {
				t.Fatalf("round trip: %+v", got)
			}
		})
	}

	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	otherID := testNodeKey(t, "other").PeerID().String()
	tests := []struct {
		name    string
		mod     func(j map[string]any)
		wantErr error
	}{
		{"another peer id", func(j map[string]any) { j["peer_id"] = otherID }, ErrMalformed},
		{"garbage peer id", func(j map[string]any) { j["peer_id"] = "12D3KooW" }, ErrMalformed},
		{"no peer id", func(j map[string]any) { delete(j, "peer_id") }, ErrMalformed},
		{"version 2", func(j map[string]any) { j["version"] = 2 }, ErrMalformed},
		{"no version", func(j map[string]any) { delete(j, "version") }, ErrMalformed},
		{"bad signing key base64", func(j map[string]any) { j["signing_key"] = "!!" }, ErrMalformed},
		{"bad signing key", func(j map[string]any) { j["signing_key"] = "AAAA" }, ErrMalformed},
		{"another KEM", func(j map[string]any) { j["encryption_kem"] = 0x20 }, ErrUnsupportedSuite},
		{"bad encryption key base64", func(j map[string]any) { j["encryption_key"] = "!!" }, ErrMalformed},
		{"short encryption key", func(j map[string]any) { j["encryption_key"] = "AAAA" }, ErrMalformed},
		{"peer id of a number", func(j map[string]any) { j["peer_id"] = 5 }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := make(map[string]any, len(j))
			for k, v := range j {
				m[k] = v
			}
			tt.mod(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var got Identity
			if err := json.Unmarshal(b, &got); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unmarshal: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}
