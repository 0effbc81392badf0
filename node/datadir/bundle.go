package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"courtmesh.dev/courtmesh/crypto"
	cmproto "courtmesh.dev/courtmesh/protocol"
)

// Files the trust service keeps beside BundleFile (the last whole bundle,
// root-signed).
const (
	// HeadFile is the root-signed head of BundleFile, when known.
	HeadFile = "bundle.head"
	// DeltasFile holds the signed deltas applied on top of BundleFile, in
	// order, each as a length-prefixed frame.
	DeltasFile = "bundle.deltas"
)

// LoadBundle opens the bundle in force: the whole bundle of BundleFile
// (skipping the signatures cache holds; nil verifies them all), its head
// (HeadFile) if it matches, then the deltas of DeltasFile that apply on
// top of it. Bundle.Raw stays the whole bundle; Sequence and the lists
// are the result of the deltas. A delta that does not apply ends the
// chain: deltaErr says why, and the bundle up to it is returned (the
// trust service fetches the rest from its peers). err is set only when
// the whole bundle cannot be read or opened.
func (d Dir) LoadBundle(root *crypto.Certificate, cache crypto.CertCache) (b *crypto.Bundle, deltaErr, err error) {
	raw, err := os.ReadFile(d.Path(BundleFile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s (the trust bundle; run `courtmesh trust install`): %w", d.Path(BundleFile), err)
	}
	b, err = crypto.OpenBundleCached(root, raw, cache)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.Path(BundleFile), err)
	}
	if hr, err := os.ReadFile(d.Path(HeadFile)); err == nil {
		if h, err := crypto.OpenBundleHead(root, hr); err == nil && h.Matches(b) {
			b.Head = hr
		}
	}
	dr, err := os.ReadFile(d.Path(DeltasFile))
	if errors.Is(err, os.ErrNotExist) {
		return b, nil, nil
	}
	if err != nil {
		return b, err, nil
	}
	r := bytes.NewReader(dr)
	for r.Len() > 0 {
		raw, err := cmproto.ReadFrame(r, crypto.MaxDeltaSize)
		if err != nil {
			return b, fmt.Errorf("%s: %w", d.Path(DeltasFile), err), nil
		}
		if pd, err := crypto.PeekDelta(raw); err == nil && pd.Sequence <= b.Sequence {
			continue // deltas of an older whole bundle, left by a crash
		}
		nb, err := crypto.ApplyDelta(root, b, raw)
		if err != nil {
			return b, fmt.Errorf("%s: %w", d.Path(DeltasFile), err), nil
		}
		b = nb
	}
	return b, nil, nil
}

// InstalledSequence is the sequence of the bundle installed here: that of
// BundleFile or, past it, of the last delta in DeltasFile. Both were
// verified when installed; this reads the sequences only (0: none).
func (d Dir) InstalledSequence() uint64 {
	raw, err := os.ReadFile(d.Path(BundleFile))
	if err != nil {
		return 0
	}
	seq, err := crypto.PeekBundleSequence(raw)
	if err != nil {
		return 0
	}
	dr, err := os.ReadFile(d.Path(DeltasFile))
	if err != nil {
		return seq
	}
	for r := bytes.NewReader(dr); r.Len() > 0; {
		raw, err := cmproto.ReadFrame(r, crypto.MaxDeltaSize)
		if err != nil {
			break
		}
		if pd, err := crypto.PeekDelta(raw); err == nil && pd.BaseSequence == seq {
			seq = pd.Sequence
		}
	}
	return seq
}
