package job_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// The week: hourly runs from Friday 2026-03-06 12:00 UTC, across the
// change to daylight saving time in New York on Sunday 2026-03-08.
var (
	weekStart   = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	weekRuns    = 7 * 24
	weekGrace   = 15 * time.Minute
	weekNewYork = weekZone("America/New_York")
	// weekOutage is the run of TestWeekOutage, when PagerDuty fails.
	weekOutage = weekUTC(10, 20, 0)
)

func weekZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func weekUTC(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

// weekPeople maps PagerDuty user IDs to their strongDM account IDs.
var weekPeople = map[string]string{
	"PALICE1": "a-alice", "PBOB001": "a-bob", "PCAROL1": "a-carol", "PDAVE01": "a-dave",
	"PERIN01": "a-erin", "PFRANK1": "a-frank", "PGINA01": "a-gina", "PHANK01": "a-hank",
}

// weekSpec is the primary rotation as the team edits it during the week:
// who holds each day (09:00 to 09:00 New York time) and the overrides on
// top.
type weekSpec struct {
	days      map[int]string // day of March → user ID
	overrides []weekOverride
	removed   string // user ID taken out of the primary rotation
}

type weekOverride struct {
	user       string
	start, end time.Time
}

func (s weekSpec) clone() weekSpec {
	c := s
	c.days = make(map[int]string, len(s.days))
	for k, v := range s.days {
		c.days[k] = v
	}
	c.overrides = slices.Clone(s.overrides)
	return c
}

// org renders the spec as the PagerDuty emulator's content: PSCHED1 (the
// primary, New York time, level 1 of PEP0001), PSCHED2 (a secondary every
// 12 hours in UTC, level 2, with dave as a member who holds no shift),
// PSCHED3 (used by no escalation policy: its final schedule gives hank's
// shifts) and PEP0002, which targets gina directly (no start or end).
func (s weekSpec) org() pagerdutytest.Org {
	org := pagerdutytest.Org{
		Users: []pagerdutytest.User{
			{ID: "PALICE1", Name: "Alice", Email: "alice@example.com"},
			{ID: "PBOB001", Name: "Bob", Email: "bob@example.com"},
			{ID: "PCAROL1", Name: "Carol", Email: "carol@example.com"},
			{ID: "PDAVE01", Name: "Dave", Email: "dave@example.com"},
			{ID: "PERIN01", Name: "Erin", Email: "erin@example.com"},
			{ID: "PFRANK1", Name: "Frank", Email: "frank@example.com"},
			{ID: "PGINA01", Name: "Gina", Email: "gina@example.com"},
			{ID: "PHANK01", Name: "Hank", Email: "hank@example.com"},
		},
		EscalationPolicies: []pagerdutytest.Policy{{ID: "PEP0001", Name: "Service"}, {ID: "PEP0002", Name: "Managers"}},
		Schedules: []pagerdutytest.Schedule{
			{ID: "PSCHED1", Name: "Primary", TimeZone: "America/New_York", EscalationPolicies: []string{"PEP0001"}},
			{ID: "PSCHED2", Name: "Secondary", EscalationPolicies: []string{"PEP0001"},
				Users: []string{"PERIN01", "PFRANK1", "PDAVE01"}},
			{ID: "PSCHED3", Name: "Shadow", Users: []string{"PHANK01"}, FinalSchedule: []pagerdutytest.Span{
				{UserID: "PHANK01", Start: "2026-03-07T00:00:00Z", End: "2026-03-08T00:00:00Z"},
				{UserID: "PHANK01", Start: "2026-03-10T06:00:00Z", End: "2026-03-10T18:00:00Z"},
			}},
		},
		OnCalls: []pagerdutytest.OnCall{{UserID: "PGINA01", EscalationPolicyID: "PEP0002", EscalationLevel: 1}},
	}
	for _, u := range []string{"PALICE1", "PBOB001", "PCAROL1", "PDAVE01"} {
		if u != s.removed {
			org.Schedules[0].Users = append(org.Schedules[0].Users, u)
		}
	}
	primary := func(user string, start, end time.Time) {
		org.OnCalls = append(org.OnCalls, pagerdutytest.OnCall{UserID: user, ScheduleID: "PSCHED1",
			EscalationPolicyID: "PEP0001", EscalationLevel: 1,
			Start: start.UTC().Format(time.RFC3339), End: end.UTC().Format(time.RFC3339)})
	}
	for day := 5; day <= 14; day++ {
		start := time.Date(2026, 3, day, 9, 0, 0, 0, weekNewYork)
		end := time.Date(2026, 3, day+1, 9, 0, 0, 0, weekNewYork)
		// Overrides cut the day's shift; what is left stays the day's.
		cur := start
		for _, o := range s.overrides {
			if o.start.Before(end) && o.end.After(start) {
				if o.start.After(cur) {
					primary(s.days[day], cur, o.start)
				}
				primary(o.user, o.start, o.end)
				cur = o.end
			}
		}
		if end.After(cur) {
			primary(s.days[day], cur, end)
		}
	}
	for t := weekUTC(5, 8, 0); t.Before(weekUTC(15, 0, 0)); t = t.Add(12 * time.Hour) {
		user := "PERIN01"
		if t.Hour() == 20 {
			user = "PFRANK1"
		}
		org.OnCalls = append(org.OnCalls, pagerdutytest.OnCall{UserID: user, ScheduleID: "PSCHED2",
			EscalationPolicyID: "PEP0001", EscalationLevel: 2,
			Start: t.Format(time.RFC3339), End: t.Add(12 * time.Hour).Format(time.RFC3339)})
	}
	return org
}

// weekChange is a version of the schedule, published at a run's time and
// changing only what comes after it.
type weekChange struct {
	at   time.Time
	what string
	spec weekSpec
}

// weekChanges is the week's story.
func weekChanges() []weekChange {
	v0 := weekSpec{days: map[int]string{
		5: "PALICE1", 6: "PBOB001", 7: "PCAROL1", 8: "PDAVE01", 9: "PALICE1",
		10: "PBOB001", 11: "PCAROL1", 12: "PDAVE01", 13: "PALICE1", 14: "PBOB001",
	}}
	v0.overrides = []weekOverride{
		// Hank covers 45 minutes of dave's shift: dave's first grant ends
		// (with grace) on the hour, and his next starts within it.
		{"PHANK01", weekUTC(8, 18, 45), weekUTC(8, 19, 30)},
		// Carol covers the evening of the 10th, dave the night after;
		// both are removed later, carol's while under way.
		{"PCAROL1", weekUTC(10, 18, 0), weekUTC(10, 23, 0)},
		{"PDAVE01", weekUTC(11, 2, 0), weekUTC(11, 6, 0)},
	}

	// Carol already holds the grant for her shift of the 7th: the earlier
	// shift comes first.
	v1 := v0.clone()
	v1.overrides = append([]weekOverride{{"PCAROL1", weekUTC(6, 20, 30), weekUTC(6, 23, 0)}}, v1.overrides...)

	v2 := v1.clone()
	v2.days[9], v2.days[10] = v1.days[10], v1.days[9]

	// Removing an override under way ends it now: PagerDuty keeps the past.
	v3 := v2.clone()
	v3.overrides = v3.overrides[:3]
	v3.overrides[2].end = weekUTC(10, 20, 0)

	v4 := v3.clone()
	v4.days[12], v4.removed = "PBOB001", "PDAVE01"

	return []weekChange{
		{weekStart, "the rotation as the week starts", v0},
		{weekUTC(6, 18, 0), "carol takes 20:30-23:00 of bob's shift under way (an override added mid-shift)", v1},
		{weekUTC(8, 15, 0), "alice and bob swap the 9th and the 10th", v2},
		{weekUTC(10, 20, 0), "carol's override under way and dave's next one are removed", v3},
		{weekUTC(11, 20, 0), "dave leaves the primary rotation; bob takes his day", v4},
	}
}

// weekTruth says who is on call at any minute: the version of the
// schedule published last before that minute decides.
type weekTruth struct{ versions []weekVersion }

// weekVersion is one published version, its spans parsed once.
type weekVersion struct {
	at      time.Time
	spans   []weekSpan
	members map[string]bool // strongDM accounts whose grants the tool manages
}

// weekSpan is a user on call from start to end; zero times are open.
type weekSpan struct {
	user       string
	start, end time.Time
}

func newWeekTruth(changes []weekChange) weekTruth {
	var w weekTruth
	for _, c := range changes {
		org := c.spec.org()
		w.versions = append(w.versions, weekVersion{at: c.at, spans: weekSpans(org), members: weekMembers(org)})
	}
	return w
}

func (w weekTruth) at(t time.Time) weekVersion {
	i := 0
	for j, v := range w.versions {
		if !v.at.After(t) {
			i = j
		}
	}
	return w.versions[i]
}

// onCall lists the strongDM accounts on call at t.
func (w weekTruth) onCall(t time.Time) map[string]bool {
	return w.at(t).onCall(t)
}

func (v weekVersion) onCall(t time.Time) map[string]bool {
	out := map[string]bool{}
	for _, sp := range v.spans {
		if (sp.start.IsZero() || !sp.start.After(t)) && (sp.end.IsZero() || sp.end.After(t)) {
			out[weekPeople[sp.user]] = true
		}
	}
	return out
}

// weekSpans is every on-call span of org: /oncalls entries, and the final
// schedules of schedules used by no escalation policy.
func weekSpans(org pagerdutytest.Org) []weekSpan {
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	var out []weekSpan
	for _, oc := range org.OnCalls {
		out = append(out, weekSpan{oc.UserID, parse(oc.Start), parse(oc.End)})
	}
	for _, sc := range org.Schedules {
		if len(sc.EscalationPolicies) > 0 {
			continue
		}
		for _, sp := range sc.FinalSchedule {
			out = append(out, weekSpan{sp.UserID, parse(sp.Start), parse(sp.End)})
		}
	}
	return out
}

// weekMembers lists the strongDM accounts whose grants the tool manages:
// members of the configured schedules and anyone they put on call.
func weekMembers(org pagerdutytest.Org) map[string]bool {
	out := map[string]bool{}
	for _, sc := range org.Schedules {
		for _, u := range sc.Users {
			out[weekPeople[u]] = true
		}
	}
	for _, oc := range org.OnCalls {
		out[weekPeople[oc.UserID]] = true
	}
	return out
}

// weekSDM is the strongDM side: two managed resources, frank reaching
// prod-db through a role, and zed's grant, which the tool must leave
// alone: zed has no PagerDuty user. weekRequest comes later.
func weekSDM() strongdmtest.Org {
	org := strongdmtest.Org{
		Resources: []strongdmtest.Resource{
			{ID: "rs-prod", Name: "prod-db", Type: "postgres"},
			{ID: "rs-stage", Name: "stage-db", Type: "postgres"},
		},
		RoleAccess: []strongdmtest.RoleAccess{{AccountID: "a-frank", ResourceID: "rs-prod", RoleID: "r-sre"}},
		Grants: []strongdmtest.Grant{
			{ID: "ag-zed", AccountID: "a-zed", ResourceID: "rs-prod", Start: weekUTC(6, 0, 0), End: weekUTC(14, 0, 0)},
		},
	}
	for _, id := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "zed"} {
		org.Accounts = append(org.Accounts, strongdmtest.Account{ID: "a-" + id, Kind: "user",
			Email: id + "@example.com", FirstName: strings.ToUpper(id[:1]) + id[1:]})
	}
	return org
}

// weekRequest is the grant of an access request bob makes while off call,
// approved at once: the tool must leave it alone too.
var weekRequest = strongdm.Grant{ID: "ag-request", AccountID: "a-bob", ResourceID: "rs-stage",
	Start: weekUTC(8, 2, 0), End: weekUTC(8, 4, 0), AccessRequestID: "ar-0001"}

// weekTally counts minutes of wrong access after one run.
type weekTally struct {
	missing, excess int
	examples        []string
}

// weekCheckHour checks every minute of the hour after a run at t, for every
// person and managed resource, against grants (what strongDM holds after
// the run).
func weekCheckHour(truth weekTruth, t time.Time, grants []strongdm.Grant, sdm strongdmtest.Org) weekTally {
	var tally weekTally
	role := map[string]bool{}
	for _, ra := range sdm.RoleAccess {
		role[ra.AccountID+"/"+ra.ResourceID] = true
	}
	note := func(format string, a ...any) {
		if len(tally.examples) < 5 {
			tally.examples = append(tally.examples, fmt.Sprintf(format, a...))
		}
	}
	// on[i] is who is on call at minute i from t-grace.
	lead := int(weekGrace / time.Minute)
	var on []map[string]bool
	for m := t.Add(-weekGrace); m.Before(t.Add(time.Hour)); m = m.Add(time.Minute) {
		on = append(on, truth.onCall(m))
	}
	for i := range 60 {
		m := t.Add(time.Duration(i) * time.Minute)
		managed := truth.at(m).members
		// Within grace-period after someone's on-call, access is allowed.
		recent := map[string]bool{}
		for _, o := range on[i : i+lead+1] {
			for a := range o {
				recent[a] = true
			}
		}
		for _, a := range sdm.Accounts {
			for _, r := range sdm.Resources {
				var full, any, unmanaged bool
				for _, g := range grants {
					if g.AccountID != a.ID || g.ResourceID != r.ID {
						continue
					}
					end := g.End
					if end.IsZero() {
						end = m.Add(time.Hour)
					}
					if !g.Start.After(m) && !end.Before(m.Add(time.Minute)) {
						full = true
					}
					if g.Start.Before(m.Add(time.Minute)) && end.After(m) {
						any = true
						unmanaged = unmanaged || g.End.IsZero() || g.AccessRequestID != "" || !managed[a.ID]
					}
				}
				byRole := role[a.ID+"/"+r.ID]
				wanted := on[i+lead][a.ID]
				switch {
				case wanted && !full && !byRole:
					tally.missing++
					note("%s on call without %s at %s", a.ID, r.Name, m.Format(time.RFC3339))
				case !wanted && any && !byRole && !unmanaged && !recent[a.ID]:
					tally.excess++
					note("%s off call with %s at %s", a.ID, r.Name, m.Format(time.RFC3339))
				}
			}
		}
	}
	return tally
}

// runWeek runs the job every hour of the week, publishing each change of
// the schedule at its time, and returns the minutes of wrong access after
// each run. outage, when not zero, is the run at which every /oncalls
// request fails.
func runWeek(t *testing.T, multiple bool, outage time.Time) (missing, excess, deletes []int) {
	t.Helper()
	return runWeekOf(t, weekChanges(), multiple, outage)
}

// runWeekOf is runWeek with another story of the week.
func runWeekOf(t *testing.T, changes []weekChange, multiple bool, outage time.Time) (missing, excess, deletes []int) {
	t.Helper()
	truth := newWeekTruth(changes)
	// A change only rewrites what comes after its publication.
	for i := 1; i < len(changes); i++ {
		for m := weekStart; m.Before(changes[i].at); m = m.Add(time.Minute) {
			before, after := truth.versions[i-1].onCall(m), truth.versions[i].onCall(m)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("change %q rewrites %s: %v, was %v", changes[i].what, m, after, before)
			}
		}
	}

	sdm := weekSDM()
	h := newHarness(t, changes[0].spec.org(), sdm)
	h.sdm.AllowMultipleGrants(multiple)
	h.inputs["pagerduty-schedules"] = "PSCHED1,PSCHED2,PSCHED3"
	h.inputs["pagerduty-escalation-policies"] = "PEP0002"
	h.inputs["resources"] = "prod-db,stage-db"
	h.inputs["grace-period"] = weekGrace.String()
	h.inputs["revoke"] = "true"

	next := 0
	for i := range weekRuns {
		at := weekStart.Add(time.Duration(i) * time.Hour)
		for next < len(changes) && !changes[next].at.After(at) {
			h.pd.SetOrg(changes[next].spec.org())
			next++
		}
		h.clock.mu.Lock()
		h.clock.t = at
		h.clock.mu.Unlock()
		if at.Equal(weekRequest.Start) {
			if _, err := h.sdm.AddGrant(weekRequest); err != nil {
				t.Fatal(err)
			}
		}
		deleted, oncalls := h.sdm.Calls("AccountGrants.Delete"), h.pd.Calls("/oncalls")
		if at.Equal(outage) {
			h.pd.Fail("/oncalls", -1, http.StatusInternalServerError, nil, "")
		}
		code := h.run()
		h.pd.ClearFaults()
		switch {
		case at.Equal(outage):
			if code != 1 {
				t.Errorf("run at %s with PagerDuty down: exit %d, want 1", at.Format(time.RFC3339), code)
			}
			if n := h.sdm.Calls("AccountGrants.Delete") - deleted; n != 0 {
				t.Errorf("run at %s with PagerDuty down: %d deletes, want 0", at.Format(time.RFC3339), n)
			}
			t.Logf("outage at %s: %d /oncalls attempts, exit %d", at.Format(time.RFC3339), h.pd.Calls("/oncalls")-oncalls, code)
		case code != 0:
			t.Fatalf("run at %s: exit %d\n%s\n%s", at.Format(time.RFC3339), code, h.stderr, h.summary)
		}

		grants := h.sdm.Grants()
		for _, g := range []strongdm.Grant{strongdm.Grant(sdm.Grants[0]), weekRequest} {
			if !g.Start.After(at) && g.End.After(at) &&
				!slices.ContainsFunc(grants, func(x strongdm.Grant) bool { return x.ID == g.ID }) {
				t.Errorf("run at %s: grant %s (not the tool's) is gone", at.Format(time.RFC3339), g.ID)
			}
		}
		deletes = append(deletes, h.sdm.Calls("AccountGrants.Delete")-deleted)
		tally := weekCheckHour(truth, at, grants, sdm)
		missing, excess = append(missing, tally.missing), append(excess, tally.excess)
		if len(tally.examples) > 0 && !at.Equal(outage) {
			t.Errorf("after the run at %s: %s\ngrants:\n  %s\n%s", at.Format(time.RFC3339),
				strings.Join(tally.examples, "\n"), strings.Join(weekGrantLines(grants), "\n  "), h.stderr)
		}
	}
	return missing, excess, deletes
}

func weekGrantLines(gs []strongdm.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID+" "+grantLine(g))
	}
	return out
}

func weekSum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}

// Ensure access follows the schedule through a week of changes, with
// hourly runs and revoke on: after every run, nobody on call lacks access
// and nobody off call has it, minute by minute, whether strongDM keeps one
// grant per (account, resource) or several.
func TestWeek(t *testing.T) {
	for _, mode := range []struct {
		name     string
		multiple bool
	}{{"one grant per pair", false}, {"several grants per pair", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			missing, excess, deletes := runWeek(t, mode.multiple, time.Time{})
			t.Logf("%d runs: %d minutes of missing access, %d minutes of excess access",
				len(missing), weekSum(missing), weekSum(excess))
			if weekSum(missing) != 0 || weekSum(excess) != 0 {
				t.Errorf("missing %d, excess %d minutes; want 0 and 0", weekSum(missing), weekSum(excess))
			}
			// TestWeekOutage's check that nothing is deleted means something
			// only if that run deletes when PagerDuty answers.
			if n := deletes[int(weekOutage.Sub(weekStart)/time.Hour)]; n == 0 {
				t.Errorf("the run at %s deletes nothing; TestWeekOutage needs a run that revokes", weekOutage)
			}
		})
	}
}

// Ensure a PagerDuty outage at one run revokes nothing in that run, and
// that the next run puts access right again. The outage is at the run
// where carol's override is removed, which would otherwise revoke hers
// (TestWeek checks that it does). One strongDM mode is enough here: the
// outage stops the run before strongDM is written to.
func TestWeekOutage(t *testing.T) {
	t.Parallel()
	missing, excess, _ := runWeek(t, false, weekOutage)
	i := int(weekOutage.Sub(weekStart) / time.Hour)
	t.Logf("the hour of the outage: %d minutes of missing access, %d of excess access (not checked)",
		missing[i], excess[i])
	missing[i], excess[i] = 0, 0
	t.Logf("every other hour: %d minutes of missing access, %d minutes of excess access",
		weekSum(missing), weekSum(excess))
	if weekSum(missing) != 0 || weekSum(excess) != 0 {
		t.Errorf("missing %d, excess %d minutes outside the outage; want 0 and 0", weekSum(missing), weekSum(excess))
	}
}
