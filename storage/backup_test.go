package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"

	"courtmesh.dev/courtmesh/court"
	"courtmesh.dev/courtmesh/crypto"
)

// TestBackupUnreadableWithoutKeys: a backup holds nothing of the cases in
// clear (party names, masked identity numbers and phones, case numbers,
// claims), it restores with the court's enc.key only, and a flipped,
// dropped or added byte anywhere is refused.
func TestBackupUnreadableWithoutKeys(t *testing.T) {
	ctx := context.Background()
	db, _, k := testStore(t)
	defer db.Close()
	// Two cases with distinctive parties; documents of several frames.
	cases := []struct {
		number, applicant, respondent, idMasked, phone string
		claim                                          int64
	}{
		{"（2025）京0105执9001号", "欧阳金丝雀", "金丝雀测试科技有限公司", "110***********4321", "139****7777", 987_654_321},
		{"（2025）京0105执9002号", "司马白鹭", "白鹭测试贸易有限公司", "310***********8765", "186****5555", 123_456_789},
	}
	for i, c := range cases {
		in := sampleCase(bytes.Repeat([]byte{byte('a' + i), ' ', 'p', 'a', 'g', 'e'}, 1<<19)) // 3 MiB
		n := court.MustParseCaseNumber(c.number)
		in.Version.Number, in.Version.Court, in.Version.ClaimFen = n, n.Court, c.claim
		in.Version.Parties = []court.Party{
			{ID: "p1", Role: court.RoleApplicant, Kind: court.PartyNatural, Name: c.applicant, IDType: court.IDResident, IDMasked: c.idMasked, Phone: c.phone},
			{ID: "p2", Role: court.RoleRespondent, Kind: court.PartyLegal, Name: c.respondent},
		}
		if _, err := db.PutCase(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := db.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	backup := buf.Bytes()

	for _, c := range cases {
		for _, s := range []string{c.number, c.applicant, c.respondent, c.idMasked, c.phone, strconv.FormatInt(c.claim, 10)} {
			if bytes.Contains(backup, []byte(s)) {
				t.Errorf("the backup holds %q in clear", s)
			}
		}
	}
	// Nor does any record key of the store appear (c/…, v/…, a/…).
	for _, p := range []string{prefixCase, prefixVersion + "（", "ix/cstat/"} {
		if bytes.Contains(backup, []byte(p+"（2025）")) || bytes.Contains(backup, []byte(p+"2025")) {
			t.Errorf("the backup holds record keys %q… in clear", p)
		}
	}

	restore := func(t *testing.T, b []byte, key crypto.Decrypter) error {
		t.Helper()
		dst, err := Open(t.TempDir(), Options{Decrypter: key})
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		err = dst.Restore(ctx, bytes.NewReader(b))
		if err == nil {
			for _, c := range cases {
				if _, err := dst.VerifyCase(ctx, court.MustParseCaseNumber(c.number)); err != nil {
					t.Errorf("restored %s: %v", c.number, err)
				}
			}
		}
		return err
	}
	t.Run("intact", func(t *testing.T) {
		if err := restore(t, backup, k); err != nil {
			t.Fatalf("restore the intact backup: %v", err)
		}
	})
	other, err := crypto.GenerateEncKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("another court's key", func(t *testing.T) {
		if err := restore(t, backup, other); !errors.Is(err, court.ErrCorrupt) {
			t.Fatalf("restore with another enc.key: %v, want court.ErrCorrupt", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		if err := restore(t, backup, nil); !errors.Is(err, court.ErrUnavailable) {
			t.Fatalf("restore without an enc.key: %v, want court.ErrUnavailable", err)
		}
	})

	flip := func(i int) []byte {
		b := bytes.Clone(backup)
		b[i] ^= 0x01
		return b
	}
	// Offsets past the 12-byte magic and version: the wrapped key, the
	// first frame's flag, length and ciphertext, the middle, the last
	// frame's tag.
	const hdr = 12
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"flipped key length", flip(hdr)},
		{"flipped wrapped key", flip(hdr + 40)},
		{"flipped byte just past the key", flip(headerLen(t, backup))},
		{"flipped frame length", flip(headerLen(t, backup) + 3)},
		{"flipped first ciphertext byte", flip(headerLen(t, backup) + 5)},
		{"flipped byte in the middle", flip(len(backup) / 2)},
		{"flipped last byte", flip(len(backup) - 1)},
		{"cut last frame", backup[:len(backup)-20]},
		{"cut at a frame boundary", backup[:headerLen(t, backup)+5+backupFrameSize+16]},
		{"a byte added", append(bytes.Clone(backup), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := restore(t, tc.b, k); !errors.Is(err, court.ErrCorrupt) {
				t.Fatalf("restore: %v, want court.ErrCorrupt", err)
			}
		})
	}
}

// headerLen returns the length of a version-2 backup's header.
func headerLen(t *testing.T, b []byte) int {
	t.Helper()
	n, m := binary.Uvarint(b[12:])
	if m <= 0 {
		t.Fatal("backup header: no key length")
	}
	return 12 + m + int(n)
}
