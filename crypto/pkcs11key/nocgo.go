//go:build !cgo

package pkcs11key

import (
	"fmt"
	"runtime"

	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
)

// Available reports whether this build can use PKCS#11 tokens: false in a
// build without cgo, which cannot load a PKCS#11 module.
const Available = false

// Key is a key in a PKCS#11 token. A build without cgo never has one:
// Generate and Open refuse.
type Key struct {
	ref Ref
}

var _ lcrypto.PrivKey = (*Key)(nil)

// unavailable is the refusal of every operation, naming the token and
// what to do.
func unavailable(r Ref) error {
	return fmt.Errorf("PKCS#11 token %q (module %s): %w for %s/%s; keep the node key in a file, or run a build of courtmesh made with cgo (CGO_ENABLED=1 and a C compiler for the target)",
		r.Token, r.Module, ErrUnavailable, runtime.GOOS, runtime.GOARCH)
}

// Generate refuses: this build has no PKCS#11 support.
func Generate(r Ref) (*Key, error) { return nil, unavailable(r) }

// Open refuses: this build has no PKCS#11 support.
func Open(r Ref) (*Key, error) { return nil, unavailable(r) }

// Ref returns the reference to the key.
func (k *Key) Ref() Ref { return k.ref }

// Sign refuses.
func (k *Key) Sign([]byte) ([]byte, error) { return nil, unavailable(k.ref) }

// GetPublic has no key to return.
func (k *Key) GetPublic() lcrypto.PubKey { return nil }

// Type is Ed25519, the only kind of token key courtmesh uses.
func (k *Key) Type() pb.KeyType { return pb.KeyType_Ed25519 }

// Raw refuses.
func (k *Key) Raw() ([]byte, error) { return nil, unavailable(k.ref) }

// Equals is true only for the same Key.
func (k *Key) Equals(o lcrypto.Key) bool { ok, isKey := o.(*Key); return isKey && ok == k }
