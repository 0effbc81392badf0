package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"courtmesh.dev/courtmesh/court"
)

// sampleUser is the account of the frozen sample user-record.json.
func sampleUser() UserRecord {
	return UserRecord{Version: userVersion, Name: "wang.fang", DisplayName: "王某某", Roles: []court.StaffRole{court.RoleJudge, court.RoleDirector},
		Cases: []string{"（2025）京0105执123号"}, Created: sampleNow, CreatedBy: "api-token",
		Tokens: []UserToken{{ID: "0123456789abcdef", Salt: bytes.Repeat([]byte{1}, 16), Hash: bytes.Repeat([]byte{2}, 32), Time: 2, Memory: 19 * 1024, Threads: 1,
			Created: sampleNow, Expires: sampleNow.AddDate(0, 0, 90), Revoked: sampleNow.Add(time.Hour)}}}
}

// TestSampleUserRecord pins the stored account (version 1): the frozen
// sample reads as the account it was written from, and this build
// writes the same bytes.
func TestSampleUserRecord(t *testing.T) {
	path := filepath.Join(storageSampleDir, "user-record.json")
	want, err := json.Marshal(sampleUser())
	if err != nil {
		t.Fatal(err)
	}
	if *updateSamples {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("this build writes the account as\n%s\nthe frozen sample is\n%s", want, got)
	}
	var u UserRecord
	if err := json.Unmarshal(got, &u); err != nil {
		t.Fatal(err)
	}
	if u.Version != 1 || u.Name != "wang.fang" || len(u.Tokens) != 1 || u.Tokens[0].Revoked.IsZero() || !u.Tokens[0].Expires.Equal(sampleNow.AddDate(0, 0, 90)) {
		t.Errorf("the sample reads as %+v", u)
	}
}

// TestUsers stores, changes, finds by token and lists accounts.
func TestUsers(t *testing.T) {
	db, _, _ := testStore(t)
	defer db.Close()
	u := sampleUser()
	if err := db.AddUser(u); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(u); !errors.Is(err, court.ErrConflict) {
		t.Errorf("the same name again: %v", err)
	}
	for _, bad := range []string{"", "Wang", "wang/fang", "王"} {
		if _, err := db.User(bad); !errors.Is(err, court.ErrInvalid) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, err := db.User("nobody"); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("an unknown account: %v", err)
	}
	got, err := db.UserByToken("0123456789abcdef")
	if err != nil || got.Name != u.Name || got.DisplayName != u.DisplayName {
		t.Fatalf("by token: %+v, %v", got, err)
	}
	if _, err := db.UserByToken("fedcba9876543210"); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("an unknown token: %v", err)
	}
	after, err := db.UpdateUser(u.Name, func(r *UserRecord) error {
		r.Disabled = true
		r.Tokens = append(r.Tokens, UserToken{ID: "00000000000000aa", Salt: []byte{3}, Hash: []byte{4}})
		return nil
	})
	if err != nil || !after.Disabled {
		t.Fatalf("update: %+v, %v", after, err)
	}
	if got, err := db.UserByToken("00000000000000aa"); err != nil || !got.Disabled {
		t.Errorf("the new token: %+v, %v", got, err)
	}
	if _, err := db.UpdateUser(u.Name, func(r *UserRecord) error { r.Name = "other"; return nil }); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("a rename: %v", err)
	}
	if err := db.AddUser(UserRecord{Name: "li.clerk", DisplayName: "李某某", Roles: []court.StaffRole{court.RoleClerk}}); err != nil {
		t.Fatal(err)
	}
	all, err := db.Users()
	if err != nil || len(all) != 2 || all[0].Name != "li.clerk" || all[1].Name != "wang.fang" {
		t.Errorf("users: %+v, %v", all, err)
	}
}
