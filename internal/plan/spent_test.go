package plan

import (
	"testing"

	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// A spent grant in the way of a Create is named for deletion only if no
// access request made it: access requests' grants are never touched.
func TestSpentAccessRequestGrantNotNamed(t *testing.T) {
	spent := grant("g1", "a-0001", -8, 1)
	spent.End = now
	spent.AccessRequestID = "ar-1"
	p, err := Make(Input{Now: now, Shifts: []Shift{shift(alice, 0, 5)}, Resources: []strongdm.Resource{prodDB},
		Accounts: accounts, Grants: []strongdm.Grant{spent}, Complete: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions {
		if a.Kind == Create && a.Grant.AccessRequestID != "" {
			t.Errorf("Create names access request grant %s for deletion", a.Grant.ID)
		}
	}
}
