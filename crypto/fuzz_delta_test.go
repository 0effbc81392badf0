package crypto

import (
	"bytes"
	"testing"
)

// deltaFuzzBase is the frozen-vector chain the head and delta fuzzers
// work on: the root and its key, the bundles of sequence 1 to 4 and the
// head and deltas between them.
type deltaFuzzBase struct {
	root    *Certificate
	rootKey *NodeKey
	bundles []*Bundle // sequence 1, 2, 3, 4
	v       map[string][]byte
}

func newDeltaFuzzBase(tb testing.TB) *deltaFuzzBase {
	tb.Helper()
	v := generateVectors(tb)
	for name, b := range generateDeltaVectors(tb, v) {
		v[name] = b
	}
	root, b1 := vectorBase(tb, v)
	fb := &deltaFuzzBase{root: root, rootKey: vectorKey(tb, v["root.seed.hex"]), bundles: []*Bundle{b1}, v: v}
	for _, name := range []string{"delta-2.hex", "delta-3.hex", "delta-4.hex"} {
		nb, err := ApplyDelta(root, fb.bundles[len(fb.bundles)-1], v[name])
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		fb.bundles = append(fb.bundles, nb)
	}
	return fb
}

// FuzzBundleHead opens fuzzed bytes as a bundle head against the pinned
// root. The fuzzer cannot forge the root's signature, so it also signs
// the fuzzed bytes as a head payload, to reach the head's parser. A head
// that opens is well formed; an unsigned one that opens says exactly what
// the genuine head says.
func FuzzBundleHead(f *testing.F) {
	fb := newDeltaFuzzBase(f)
	genuine := fb.v["bundle-head.hex"]
	env, err := UnmarshalEnvelope(genuine, MaxBundleHeadSize)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine)
	f.Add(env.Payload)
	f.Add([]byte{})
	f.Add(fb.v["delta-2.hex"])
	want, err := OpenBundleHead(fb.root, genuine)
	if err != nil {
		f.Fatal(err)
	}
	wellFormed := func(t *testing.T, h *BundleHead) {
		if h.Sequence == 0 || h.Size == 0 || h.Size > MaxBundleSize {
			t.Fatalf("opened an ill-formed head: %+v", h)
		}
		if h.Matches(fb.bundles[0]) != (*h == *want) {
			t.Fatalf("head %+v: Matches the bundle %v, equal to its genuine head %v", h, h.Matches(fb.bundles[0]), *h == *want)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := OpenBundleHead(fb.root, raw)
		if err != nil {
			if h != nil {
				t.Fatal("error with a head")
			}
		} else {
			wellFormed(t, h)
			if *h != *want {
				t.Fatalf("fuzzed bytes open as a head the root did not sign: %+v", h)
			}
		}
		if len(raw) > MaxBundleHeadSize {
			return
		}
		signed, err := Seal(fb.rootKey, fb.root.Serial, PayloadBundleHead, raw)
		if err != nil {
			t.Fatal(err)
		}
		sraw, err := signed.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if h, err := OpenBundleHead(fb.root, sraw); err == nil {
			wellFormed(t, h)
		}
	})
}

// FuzzBundleDelta decodes fuzzed bytes as a delta and applies them to
// each bundle of the frozen chain; it also signs them as a delta payload
// with the root key, to reach the change checks. A delta that applies
// makes the next sequence with the state it names, and never changes
// the bundle it was applied to.
func FuzzBundleDelta(f *testing.F) {
	fb := newDeltaFuzzBase(f)
	for _, name := range []string{"delta-2.hex", "delta-3.hex", "delta-4.hex"} {
		f.Add(fb.v[name])
		env, err := UnmarshalEnvelope(fb.v[name], MaxDeltaSize)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env.Payload)
	}
	f.Add([]byte{})
	f.Add(fb.v["bundle-head.hex"])
	type seen struct {
		seq   uint64
		state [32]byte
		certs int
		revs  int
	}
	before := make([]seen, len(fb.bundles))
	for i, b := range fb.bundles {
		before[i] = seen{b.Sequence, b.State(), len(b.Certs), len(b.Revocations)}
	}
	apply := func(t *testing.T, raw []byte, genuine bool) {
		d, perr := PeekDelta(raw)
		for i, base := range fb.bundles {
			nb, err := ApplyDelta(fb.root, base, raw)
			if now := (seen{base.Sequence, base.State(), len(base.Certs), len(base.Revocations)}); now != before[i] {
				t.Fatalf("applying a delta changed bundle %d: %+v, was %+v", i+1, now, before[i])
			}
			if err != nil {
				if nb != nil {
					t.Fatal("error with a bundle")
				}
				continue
			}
			if perr != nil {
				t.Fatalf("ApplyDelta accepts what PeekDelta refuses: %v", perr)
			}
			if nb.Sequence != base.Sequence+1 || nb.Sequence != d.Sequence || nb.State() != d.State || !nb.ExpiresAt.After(nb.IssuedAt) ||
				len(nb.Deltas) != len(base.Deltas)+1 || !bytes.Equal(nb.Deltas[len(nb.Deltas)-1], raw) || nb.Certs[0].Serial != fb.root.Serial {
				t.Fatalf("delta on bundle %d made an ill-formed bundle %d", base.Sequence, nb.Sequence)
			}
			if genuine && (i+1 == len(fb.bundles) || nb.State() != fb.bundles[i+1].State()) {
				t.Fatalf("unsigned fuzzed bytes apply to bundle %d as a delta the root did not sign", base.Sequence)
			}
			tr := NewTrust(fb.root, nb)
			for _, p := range tr.Peers(nb.IssuedAt) {
				if _, err := tr.ByPeer(p, nb.IssuedAt); err != nil {
					t.Fatalf("Peers lists %s but ByPeer refuses it: %v", p, err)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		apply(t, raw, true)
		if len(raw) > MaxDeltaSize/2 {
			return
		}
		signed, err := Seal(fb.rootKey, fb.root.Serial, PayloadBundleDelta, raw)
		if err != nil {
			t.Fatal(err)
		}
		sraw, err := signed.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		apply(t, sraw, false)
	})
}
