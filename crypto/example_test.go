package crypto_test

import (
	"errors"
	"fmt"
	"time"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// node makes the keys of a court node and their public identity.
func node() (*crypto.NodeKey, *crypto.Identity) {
	key, err := crypto.GenerateNodeKey()
	if err != nil {
		panic(err)
	}
	enc, err := crypto.GenerateEncKey()
	if err != nil {
		panic(err)
	}
	id, err := crypto.NewIdentity(key, enc)
	if err != nil {
		panic(err)
	}
	return key, id
}

// offline makes an issuing key: a signing key with no peer ID and no
// encryption key, kept off the network.
func offline() (*crypto.NodeKey, *crypto.Identity) {
	key, err := crypto.GenerateNodeKey()
	if err != nil {
		panic(err)
	}
	return key, &crypto.Identity{SigningKey: key.Public()}
}

// The national root certifies the Beijing high court as issuer for 京,
// which may then certify 京0105 but not 沪0101.
func ExampleIssue() {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	rootKey, rootID := offline()
	root, err := crypto.Issue(rootKey, nil, crypto.Template{
		Code: court.Supreme, Name: "最高人民法院", Identity: rootID,
		Roles: []crypto.Role{crypto.RoleRoot}, Scope: court.Supreme,
		NotBefore: from, NotAfter: from.AddDate(20, 0, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	jingKey, jingID := offline()
	jing, err := crypto.Issue(rootKey, root, crypto.Template{
		Code: "京", Name: "北京市高级人民法院", Identity: jingID,
		Roles: []crypto.Role{crypto.RoleIssuer}, Scope: "京",
		NotBefore: from, NotAfter: from.AddDate(10, 0, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	_, chaoyangID := node()
	chaoyang, err := crypto.Issue(jingKey, jing, crypto.Template{
		Code: "京0105", Name: "北京市朝阳区人民法院", Identity: chaoyangID,
		Roles:     []crypto.Role{crypto.RoleCourt},
		NotBefore: from, NotAfter: from.AddDate(2, 0, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(chaoyang.Code, chaoyang.Level, "parent", chaoyang.Parent, "issued by", chaoyang.IssuerCode)

	_, huangpuID := node()
	_, err = crypto.Issue(jingKey, jing, crypto.Template{
		Code: "沪0101", Name: "上海市黄浦区人民法院", Identity: huangpuID,
		Roles:     []crypto.Role{crypto.RoleCourt},
		NotBefore: from, NotAfter: from.AddDate(2, 0, 0),
	})
	fmt.Println("京 certifies 沪0101:", errors.Is(err, crypto.ErrNotAuthorised))
	// Output:
	// 京0105 基层 parent 京01 issued by 京
	// 京 certifies 沪0101: true
}

// A node pins the national root, opens a trust bundle received from the
// mesh and admits the peers it certifies.
func ExampleOpenBundle() {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// The national operator's side: certify a court, sign a bundle.
	rootKey, rootID := offline()
	root, err := crypto.Issue(rootKey, nil, crypto.Template{
		Code: court.Supreme, Name: "最高人民法院", Identity: rootID,
		Roles: []crypto.Role{crypto.RoleRoot}, Scope: court.Supreme,
		NotBefore: from, NotAfter: from.AddDate(20, 0, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	courtKey, courtID := node()
	cert, err := crypto.Issue(rootKey, root, crypto.Template{
		Code: "京0105", Name: "北京市朝阳区人民法院", Identity: courtID,
		Roles:     []crypto.Role{crypto.RoleCourt},
		NotBefore: from, NotAfter: from.AddDate(2, 0, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	built, err := crypto.BuildBundle(rootKey, root, 1, from, from.AddDate(0, 3, 0), []*crypto.Certificate{cert}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	raw := built.Raw // what travels over the mesh and sits on disk

	// A node's side: open the bytes against the pinned root.
	b, err := crypto.OpenBundle(root, raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	trust := crypto.NewTrust(root, b)
	now := from.AddDate(0, 1, 0)
	fmt.Println("bundle", b.Sequence, b.Status(now))
	c, err := trust.ByPeer(courtKey.PeerID(), now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("admit", c.Code)

	// Late in its life the bundle warns; past its grace period it admits no one.
	fmt.Println(b.Status(b.ExpiresAt.Add(-24 * time.Hour)))
	_, err = trust.ByPeer(courtKey.PeerID(), b.ExpiresAt.Add(crypto.BundleGrace+time.Hour))
	fmt.Println("dead bundle refuses:", errors.Is(err, crypto.ErrExpired))
	// Output:
	// bundle 1 valid
	// admit 京0105
	// expiring
	// dead bundle refuses: true
}
