package trust

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/crypto"
	"courtmesh.dev/courtmesh/node/datadir"
	"courtmesh.dev/courtmesh/node/nodetest"
)

// BenchmarkBundleSpread pushes a re-signed national bundle (3,534
// certificates) to the operator of a mesh of COURTMESH_SPREAD_NODES real
// nodes on loopback (17 by default), every node connected to every other,
// with the production limits (uploadFanout, uploadConcurrency), and
// prints who served the whole bundle:
//
//	go test ./node/trust -run '^$' -bench BundleSpread -benchtime 1x
func BenchmarkBundleSpread(b *testing.B) {
	n := 17
	if v, err := strconv.Atoi(os.Getenv("COURTMESH_SPREAD_NODES")); err == nil && v >= 2 {
		n = v
	}
	now := time.Now()
	base := b.TempDir()
	var dirs []datadir.Dir
	var ids []*crypto.Identity
	for i := range n {
		d := datadir.Dir(filepath.Join(base, fmt.Sprintf("n%d", i)))
		id, err := datadir.Init(d)
		if err != nil {
			b.Fatal(err)
		}
		dirs, ids = append(dirs, d), append(ids, id)
	}
	nat := nodetest.NewNational(b, now, ids...)
	log := nodetest.Logger()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var s []*Service
	for _, d := range dirs {
		if _, _, err := datadir.InstallTrust(d, nat.RootRaw, nat.Bundle.Raw); err != nil {
			b.Fatal(err)
		}
		nk, _, err := d.Keys()
		if err != nil {
			b.Fatal(err)
		}
		si, err := New(Deps{Dir: d, Self: nk.PeerID(), Log: log, Now: time.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(si.Close)
		s = append(s, join(b, si, nk))
	}
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			connect(b, s[i], s[j])
		}
	}
	b2, err := crypto.BuildBundle(nat.RootKey, nat.Root, 2, now, now.Add(30*24*time.Hour), nat.Bundle.Certs[1:], nil)
	if err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		if ok, err := s[0].InstallWithHead(b2.Raw, b2.Head, "local operator"); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if err := s[0].announce(context.Background()); err != nil {
			b.Fatal(err)
		}
		for i := range s {
			nodetest.PollUntil(b, 5*time.Minute, "the bundle on every node", func() bool { return s[i].Trust().Bundle().Sequence == 2 })
		}
		took = time.Since(start)
	}
	var served []int64
	var total, busy int64
	for _, si := range s {
		st := si.Stats()
		served = append(served, st.BundlesServed)
		total += st.BytesServed
		busy += st.UploadsBusy
	}
	sources := len(slices.DeleteFunc(slices.Clone(served), func(v int64) bool { return v == 0 }))
	b.Logf("whole bundles served per node (the operator first): %v", served)
	fmt.Printf("bundle spread: %d nodes, bundle of %d bytes\n", n, len(b2.Raw))
	fmt.Printf("bundle spread: whole bundles served by the operator: %d of %d\n", served[0], n-1)
	fmt.Printf("bundle spread: nodes that served a whole bundle: %d; most by one node: %d\n", sources, slices.Max(served))
	fmt.Printf("bundle spread: bytes served in all: %d (%.2f bundles a node); busy answers: %d\n", total, float64(total)/float64(len(b2.Raw))/float64(n-1), busy)
	fmt.Printf("bundle spread: on every node after: %v (wall time, loopback, shared machine)\n", took.Round(time.Millisecond))
}
