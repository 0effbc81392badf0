package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

// TestQueryCodesAndComplaints: query codes are replaced whole, refused a
// second time without replace, found by selector; complaints are paged
// from their indexes, and an answered one leaves the open index.
func TestQueryCodesAndComplaints(t *testing.T) {
	db, _, _ := testStore(t)
	defer db.Close()
	n := court.MustParseCaseNumber("（2024）京0105执7号")
	q := QueryCode{Case: n, Party: "p1", Role: court.RoleApplicant, Salt: []byte("salt"), Hash: []byte("hash"), Selector: "aa"}
	if err := db.ReplaceQueryCodes(n, []QueryCode{q}, false); !errors.Is(err, court.ErrNotFound) {
		t.Fatalf("codes of a case not in the store: %v", err)
	}
	if _, err := db.PutCase(context.Background(), sampleCase([]byte("doc"))); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceQueryCodes(n, []QueryCode{q}, false); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceQueryCodes(n, []QueryCode{q}, false); !errors.Is(err, court.ErrConflict) {
		t.Fatalf("codes issued twice: %v", err)
	}
	q2 := q
	q2.Selector = "bb"
	if err := db.ReplaceQueryCodes(n, []QueryCode{q2}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueryCodeBySelector(n, "aa"); !errors.Is(err, court.ErrNotFound) {
		t.Errorf("a replaced code still found: %v", err)
	}
	if got, err := db.QueryCodeBySelector(n, "bb"); err != nil || got.Party != "p1" || got.Version != queryCodeVersion {
		t.Errorf("the new code: %+v, %v", got, err)
	}
	if c, err := db.QueryCodesIssued(n); err != nil || c != 1 {
		t.Errorf("%d codes issued, %v", c, err)
	}
	k1, err := db.PartyKey()
	if err != nil || len(k1) != 32 {
		t.Fatal(err)
	}
	if k2, _ := db.PartyKey(); string(k2) != string(k1) {
		t.Error("the selector key changed")
	}

	for i := range 5 {
		w := &ComplaintWrite{ID: fmt.Sprintf("%032d", i), Case: n.String(), Supervisor: "京01", Complained: "京0105",
			AnswerBy: fmt.Sprintf("2026-04-%02d", 10-i), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
		if err := db.Apply(Commit{Complaint: w}); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	cursor := ""
	for range 10 {
		page, next, err := db.Complaints(ComplaintsBySupervisor, "京01", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page {
			all = append(all, string(b))
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(all) != 5 || all[0] != `{"n":0}` || all[4] != `{"n":4}` {
		t.Errorf("paged by 2: %v", all)
	}
	open, _, _ := db.Complaints(ComplaintsOpen, "", "", 10)
	if len(open) != 5 || string(open[0]) != `{"n":4}` {
		t.Errorf("open by answer-by date: %s", open)
	}
	w := &ComplaintWrite{ID: fmt.Sprintf("%032d", 4), Case: n.String(), Supervisor: "京01", Complained: "京0105", AnswerBy: "2026-04-06", Answered: true, Data: []byte(`{"n":4,"answered":true}`)}
	if err := db.Apply(Commit{Complaint: w}); err != nil {
		t.Fatal(err)
	}
	if open, _, _ := db.Complaints(ComplaintsOpen, "", "", 10); len(open) != 4 {
		t.Errorf("an answered complaint stays open: %s", open)
	}
	if l, _, _ := db.Complaints(ComplaintsByCase, n.String(), "", 10); len(l) != 5 {
		t.Errorf("%d complaints by case", len(l))
	}
	if l, _, _ := db.Complaints(ComplaintsByCourt, "京0108", "", 10); len(l) != 0 {
		t.Errorf("complaints about a court none is about: %d", len(l))
	}
	if err := db.Apply(Commit{Complaint: &ComplaintWrite{ID: "a/b", Data: []byte("{}")}}); !errors.Is(err, court.ErrInvalid) {
		t.Errorf("a complaint ID with a slash: %v", err)
	}
}
