package job_test

import (
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// perfHarness is a harness over perfOrg(entries, resources) as of the
// harness's now.
func perfHarness(t *testing.T, entries, resources int) *harness {
	t.Helper()
	pd, sdm := perfOrg(entries, resources, now)
	h := newHarness(t, pd, sdm)
	h.inputs = perfInputs(h.pd, h.sdm, resources)
	return h
}

// counts are the calls one run made: PagerDuty requests by path and
// strongDM calls by method.
type counts struct {
	pd  map[string]int
	sdm map[string]int
}

func (h *harness) counts() counts {
	c := counts{pd: map[string]int{}, sdm: h.sdm.Counts()}
	for _, r := range h.pd.Requests() {
		c.pd[r.Path]++
	}
	maps.DeleteFunc(c.sdm, func(_ string, n int) bool { return n == 0 })
	return c
}

// Ensure the calls of a fixed organisation stay the fewest there can be, so
// that a change that adds calls fails here rather than in someone's rate
// limit. 250 entries of 32 people on 4 schedules at 2 levels; 3 managed
// resources; in strongDM 64 users and 3 service accounts; half the
// (person, resource) pairs already granted.
func TestCallCounts(t *testing.T) {
	h := perfHarness(t, 250, 3)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	first := counts{
		// ceil(250 / 100) pages; no user or schedule lookups.
		pd: map[string]int{"/oncalls": 3},
		sdm: map[string]int{
			"Resources.List":        3,  // one per resource name
			"Accounts.List":         2,  // 64 users in pages of 50, not 32 lookups
			"AccountGrants.List":    3,  // one page per resource
			"AccountResources.List": 3,  // every resource misses grants
			"AccountGrants.Create":  48, // 32 people × 3 resources − 48 already there
		},
	}
	if got := h.counts(); !maps.Equal(got.pd, first.pd) || !maps.Equal(got.sdm, first.sdm) {
		t.Errorf("first run: calls = %v %v, want %v %v", got.pd, got.sdm, first.pd, first.sdm)
	}
	if d := h.clock.Slept(); d != 0 {
		t.Errorf("first run waited %s; 48 writes are well within strongDM's budget", d)
	}
	if n := len(h.sdm.Grants()); n != 96+33 {
		t.Errorf("%d grants after the first run, want 96 of people on call and 33 of others", n)
	}

	// Nothing changed: the same reads, minus who reaches the resources
	// through a role (nothing is missing), and no write at all.
	h.pd.ResetCounts()
	h.sdm.ResetCounts()
	if code := h.run(); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, h.stderr)
	}
	second := counts{
		pd: map[string]int{"/oncalls": 3},
		sdm: map[string]int{
			"Resources.List":     3,
			"Accounts.List":      2,
			"AccountGrants.List": 3,
		},
	}
	if got := h.counts(); !maps.Equal(got.pd, second.pd) || !maps.Equal(got.sdm, second.sdm) {
		t.Errorf("second run: calls = %v %v, want %v %v", got.pd, got.sdm, second.pd, second.sdm)
	}
	if h.sdm.Writes() != 0 {
		t.Errorf("second run made %d writes, want none", h.sdm.Writes())
	}
	if got := h.output("existing"); got != "96" {
		t.Errorf("second run: existing = %s, want 96", got)
	}
}

// Ensure people are found with whichever costs fewer reads: the listing of
// every user, or one lookup each.
func TestCallCountsUsers(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*strongdmtest.Org)
		// reads of Accounts.List; unmatched people
		lists, unmatched int
	}{
		// 2 people, 4 users: one page settles everyone.
		{"one page", nil, 1, 0},
		// A person without a strongDM user: the whole listing has been
		// read, so no lookup is needed to be sure.
		{"one page, one unmatched", func(o *strongdmtest.Org) {
			o.Accounts = slices.DeleteFunc(o.Accounts, func(a strongdmtest.Account) bool { return a.ID == "a-00001" })
			o.Grants = slices.DeleteFunc(o.Grants, func(g strongdmtest.Grant) bool { return g.AccountID == "a-00001" })
		}, 1, 1},
		// 2 people behind 300 users: the first page finds nobody, so the
		// two are looked up one by one.
		{"few among many", func(o *strongdmtest.Org) {
			var many []strongdmtest.Account
			for i := range 300 {
				many = append(many, strongdmtest.Account{ID: "a-many-" + strconv.Itoa(i), Kind: "user",
					Email: "many" + strconv.Itoa(i) + "@example.com"})
			}
			o.Accounts = append(many, o.Accounts...)
		}, 1 + 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd, sdm := perfOrg(16, 1, now)
			if tt.edit != nil {
				tt.edit(&sdm)
			}
			h := newHarness(t, pd, sdm)
			h.inputs = perfInputs(h.pd, h.sdm, 1)
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s", code, h.stderr)
			}
			if n := h.sdm.Calls("Accounts.List"); n != tt.lists {
				t.Errorf("%d Accounts.List calls, want %d", n, tt.lists)
			}
			if got := h.output("unmatched"); got != strconv.Itoa(tt.unmatched) {
				t.Errorf("unmatched = %s, want %d", got, tt.unmatched)
			}
		})
	}
}

// Ensure a plan larger than strongDM's write budget is paced on the run's
// clock: 475 creates, 25 more than the 450 the client sends at once, need at
// least 25 / 7.5 a second = 3.3 s, and every one is made.
func TestWritesPaced(t *testing.T) {
	h := perfHarness(t, 190*perfEntriesPerPerson, 5)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if n := h.sdm.Calls("AccountGrants.Create"); n != 475 {
		t.Fatalf("%d creates, want 475", n)
	}
	if got := h.output("created"); got != "475" {
		t.Errorf("created = %s, want 475", got)
	}
	if d := h.clock.Now().Sub(now); d < 3300*time.Millisecond {
		t.Errorf("the run took %s of its clock, want at least 3.3s of pacing", d)
	}
}

// Ensure access through a role is still seen although AccountResources is
// read only where grants leave a shift uncovered: the person a grant does
// not cover but a role does gets no grant.
func TestRoleAccessRead(t *testing.T) {
	pd, sdm := perfOrg(16, 1, now) // 2 people; a-00000 holds a grant, a-00001 none
	sdm.RoleAccess = append(sdm.RoleAccess, strongdmtest.RoleAccess{AccountID: "a-00001", ResourceID: "rs-0000", RoleID: "r-oncall"})
	h := newHarness(t, pd, sdm)
	h.inputs = perfInputs(h.pd, h.sdm, 1)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if n := h.sdm.Calls("AccountResources.List"); n != 1 {
		t.Errorf("%d AccountResources.List calls, want 1", n)
	}
	if n := h.sdm.Writes(); n != 0 {
		t.Errorf("%d writes, want none: one person has a grant, the other a role", n)
	}
	if got := h.output("existing"); got != "2" {
		t.Errorf("existing = %s, want 2", got)
	}
}
