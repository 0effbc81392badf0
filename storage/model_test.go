package storage

import (
	"reflect"
	"testing"

	"courtmesh.dev/courtmesh/court"
)

// TestCaseVersionCase: every field of court.Case is a field of the stored
// CaseVersion, of the same type, and Case() copies it: a field added to
// the case model and forgotten here would otherwise be lost silently.
func TestCaseVersionCase(t *testing.T) {
	v := sampleCase(nil).Version
	v.ClaimFen, v.Filed, v.Applied, v.Noticed = 100, day("2024-01-02"), day("2024-01-03"), day("2024-01-04")
	v.Title.Kind = "judgment"
	v.Searches = []court.Search{{On: day("2024-01-05"), Source: "national_search", Court: v.Court}}
	c := reflect.ValueOf(v.Case())
	vv := reflect.ValueOf(v)
	for i := range c.NumField() {
		f := c.Type().Field(i)
		sf, ok := vv.Type().FieldByName(f.Name)
		if !ok || sf.Type != f.Type {
			t.Errorf("court.Case.%s (%s) has no field of that type in CaseVersion", f.Name, f.Type)
			continue
		}
		if !reflect.DeepEqual(c.Field(i).Interface(), vv.FieldByName(f.Name).Interface()) {
			t.Errorf("Case() does not copy %s", f.Name)
		}
		if c.Field(i).IsZero() {
			t.Errorf("sample leaves %s zero; set it so the copy is checked", f.Name)
		}
	}
}
