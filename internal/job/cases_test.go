package job_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// The cases of real failure reports; each also checks (in the harness)
// that no secret shows anywhere.

func TestC01OffsetTimes(t *testing.T) {
	for _, tt := range []struct{ name, start, end string }{
		{"offset", "2026-03-06T18:00:00+01:00", "2026-03-07T18:00:00+01:00"},
		{"zulu", "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, tt.start, tt.end)}
			h := newHarness(t, pd, caseOrg())
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s", code, h.stderr)
			}
			want := []string{"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z"}
			if got := h.grants(); !slices.Equal(got, want) {
				t.Errorf("grants = %q, want %q", got, want)
			}
		})
	}
}

func TestC02PermanentOnCall(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		{UserID: "PCAROL1", EscalationPolicyID: "PEP0001", EscalationLevel: 1},
	}
	h := newHarness(t, pd, caseOrg())
	// Carol is not on a schedule: ask for the policy too.
	h.inputs["pagerduty-escalation-policies"] = "PEP0001"
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	want := []string{
		"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z",
		"a-0003 rs-0001 2026-03-06T12:00:00Z → 2026-03-07T12:00:00Z",
	}
	got := h.grants()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	if !strings.Contains(h.summary, "escalation policy") {
		t.Errorf("summary does not mark carol's permanent on-call:\n%s", h.summary)
	}
}

func TestC03SamePersonSeveralLevels(t *testing.T) {
	pd := casePeople()
	pd.EscalationPolicies = append(pd.EscalationPolicies, pagerdutytest.Policy{ID: "PEP0002", Name: "Other"})
	pd.Schedules[0].EscalationPolicies = []string{"PEP0001", "PEP0002"}
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		shift("PALICE1", 2, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		{UserID: "PALICE1", ScheduleID: "PSCHED1", EscalationPolicyID: "PEP0002", EscalationLevel: 1,
			Start: "2026-03-06T17:00:00Z", End: "2026-03-07T17:00:00Z"},
	}
	h := newHarness(t, pd, caseOrg())
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if n := h.sdm.Calls("AccountGrants.Create"); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	if n := h.pd.Calls("/users/"); n != 0 {
		t.Errorf("%d user lookups, want 0", n)
	}
	if n := strings.Count(h.summary, "alice@example.com"); n != 1 {
		t.Errorf("alice shows %d times in the summary, want once:\n%s", n, h.summary)
	}
	if strings.Contains(h.stdout, "::warning") || strings.Contains(h.stderr, "level=WARN") {
		t.Errorf("warnings:\n%s%s", h.stdout, h.stderr)
	}
}

func TestC05ManyRows(t *testing.T) {
	pd := casePeople()
	sdm := caseOrg()
	pd.Users, pd.OnCalls = nil, nil
	for i := 1; i <= 130; i++ {
		id := "PU" + pad(i)
		email := "user" + pad(i) + "@example.com"
		pd.Users = append(pd.Users, pagerdutytest.User{ID: id, Name: "User " + pad(i), Email: email})
		pd.OnCalls = append(pd.OnCalls, shift(id, 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"))
		sdm.Accounts = append(sdm.Accounts, accountFor("a-u"+pad(i), email))
	}
	h := newHarness(t, pd, sdm)
	h.inputs["max-changes"] = "130" // the default cap of 100 would refuse
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	got := h.grants()
	if len(got) != 130 || !slices.Contains(got, "a-u130 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z") {
		t.Errorf("%d grants, want 130 including a-u130", len(got))
	}
	if n := h.pd.Calls("/oncalls"); n != 2 {
		t.Errorf("%d /oncalls requests, want 2 (limit 100)", n)
	}
}

func TestC07DeletedUser(t *testing.T) {
	pd := casePeople()
	pd.Users = append(pd.Users, pagerdutytest.User{ID: "PGHOST1", Name: "Deleted User", Deleted: true, DeletedAt: "2026-02-01T00:00:00Z"})
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		shift("PGHOST1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
	}
	h := newHarness(t, pd, caseOrg())
	h.extra["GITHUB_ACTIONS"] = "true"
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if got := h.grants(); len(got) != 1 || !strings.HasPrefix(got[0], "a-0001 ") {
		t.Errorf("grants = %q, want alice's only", got)
	}
	warnings := 0
	for _, line := range strings.Split(h.stdout, "\n") {
		if strings.HasPrefix(line, "::warning") && strings.Contains(line, "PGHOST1") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings naming PGHOST1, want 1:\n%s", warnings, h.stdout)
	}
	for _, r := range h.sdm.Requests() {
		if strings.Contains(string(r.Body), `email:\"\"`) || strings.Contains(string(r.Body), `email:""`) {
			t.Errorf("looked up an empty email in strongDM")
		}
	}
	if h.output("created") != "1" {
		t.Errorf("created = %q, want 1", h.output("created"))
	}
	if !strings.Contains(h.summary, "PGHOST1") && !strings.Contains(h.summary, "Deleted User") {
		t.Errorf("summary does not list the skipped user:\n%s", h.summary)
	}
}

func TestC08EmailCase(t *testing.T) {
	pd := casePeople()
	pd.Users[0].Email = "Alice.Smith@Example.COM"
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	sdm := caseOrg()
	sdm.Accounts = append(sdm.Accounts, accountFor("a-0009", "alice.smith@example.com"))
	h := newHarness(t, pd, sdm)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	want := []string{"a-0009 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z"}
	if got := h.grants(); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	if h.output("unmatched") != "0" {
		t.Errorf("unmatched = %q", h.output("unmatched"))
	}
}

func TestC10AlreadyGranted(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	h := newHarness(t, pd, caseOrg())
	if code := h.run(); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, h.stderr)
	}
	for i := range 2 {
		h.sdm.ResetCounts()
		h.extra["GITHUB_ACTIONS"] = "true"
		if code := h.run(); code != 0 {
			t.Fatalf("re-run %d: exit %d\n%s", i, code, h.stderr)
		}
		if strings.Contains(h.stdout, "::error") {
			t.Errorf("re-run %d: errors:\n%s", i, h.stdout)
		}
		if n := h.sdm.Writes(); n != 0 {
			t.Errorf("re-run %d: %d writes, want 0", i, n)
		}
		if h.output("existing") != "1" || h.output("created") != "0" {
			t.Errorf("re-run %d: existing = %q, created = %q", i, h.output("existing"), h.output("created"))
		}
		if !strings.Contains(h.summary, "already granted") {
			t.Errorf("re-run %d: summary does not say already granted:\n%s", i, h.summary)
		}
	}
}

// C12: a quoted secret is refused before any request; one with a trailing
// newline is accepted.
func TestC12QuotedSecret(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	h := newHarness(t, pd, caseOrg())
	secret := h.inputs["sdm-api-secret-key"]
	h.inputs["sdm-api-secret-key"] = `"` + secret + `"`
	if code := h.run(); code != 2 {
		t.Fatalf("quoted: exit %d, want 2", code)
	}
	if !strings.Contains(h.stderr, "sdm-api-secret-key") || !strings.Contains(h.stderr, "base64") {
		t.Errorf("error does not name the input and base64: %s", h.stderr)
	}
	if h.pd.Total() != 0 || len(h.sdm.Requests()) != 0 {
		t.Errorf("requests were made: PagerDuty %d, strongDM %d", h.pd.Total(), len(h.sdm.Requests()))
	}
	h.inputs["sdm-api-secret-key"] = secret + "\n"
	if code := h.run(); code != 0 {
		t.Fatalf("trailing newline: exit %d\n%s", code, h.stderr)
	}
	if len(h.grants()) != 1 {
		t.Errorf("grants = %q", h.grants())
	}
}

func TestC17InputPlumbing(t *testing.T) {
	pd := casePeople()
	pd.Schedules = append(pd.Schedules, pagerdutytest.Schedule{ID: "PSCHED2", Name: "Second", EscalationPolicies: []string{"PEP0002"}, Users: []string{"PBOB001"}})
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		{UserID: "PBOB001", ScheduleID: "PSCHED2", EscalationPolicyID: "PEP0002", EscalationLevel: 1, Start: "2026-03-06T13:00:00Z", End: "2026-03-06T20:00:00Z"},
	}
	t.Run("A multiline list and an empty window", func(t *testing.T) {
		h := newHarness(t, pd, caseOrg())
		h.inputs["pagerduty-schedules"] = "PSCHED1\n  PSCHED2 \n"
		h.inputs["window"] = ""
		if code := h.run(); code != 0 {
			t.Fatalf("exit %d\n%s", code, h.stderr)
		}
		reqs := h.pd.Requests()
		if len(reqs) == 0 || reqs[0].Path != "/oncalls" {
			t.Fatalf("first request: %+v", reqs)
		}
		if got := reqs[0].Query["schedule_ids[]"]; !slices.Equal(got, []string{"PSCHED1", "PSCHED2"}) {
			t.Errorf("schedule_ids[] = %q", got)
		}
		if got := reqs[0].Query.Get("until"); got != "2026-03-07T12:00:00Z" {
			t.Errorf("until = %q, want the 24h default", got)
		}
		if len(h.grants()) != 2 {
			t.Errorf("grants = %q", h.grants())
		}
	})
	for _, tt := range []struct{ name, input, value string }{
		{"B no schedule", "pagerduty-schedules", "  \n"},
		{"C window beyond 90 days", "window", "2161h"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, pd, caseOrg())
			h.inputs[tt.input] = tt.value
			if code := h.run(); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if !strings.Contains(h.stderr, tt.input) {
				t.Errorf("error does not name %s: %s", tt.input, h.stderr)
			}
			if h.pd.Total() != 0 || len(h.grants()) != 0 {
				t.Errorf("PagerDuty requests %d, grants %q", h.pd.Total(), h.grants())
			}
		})
	}
}

// The plan output is JSON with one object per action.
func TestPlanOutput(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	h := newHarness(t, pd, caseOrg())
	if code := h.run("-dry-run=true"); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	var rows []map[string]string
	if err := json.Unmarshal([]byte(h.output("plan")), &rows); err != nil {
		t.Fatalf("plan output: %v\n%s", err, h.output("plan"))
	}
	if len(rows) != 1 || rows[0]["status"] != "would create" || rows[0]["resource"] != "prod-db" {
		t.Errorf("plan = %v", rows)
	}
	if len(h.grants()) != 0 || h.sdm.Writes() != 0 {
		t.Errorf("a dry run wrote: %q", h.grants())
	}
}

func pad(i int) string { return fmt.Sprintf("%03d", i) }

func accountFor(id, email string) strongdmtest.Account {
	return strongdmtest.Account{ID: id, Kind: "user", Email: email}
}

// A permanent on-call (C02) ends at the edge of the window only because the
// window does: an hourly run must not replace its grant every hour.
func TestPermanentOnCallKeepsItsGrant(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{{UserID: "PCAROL1", EscalationPolicyID: "PEP0001", EscalationLevel: 1}}
	h := newHarness(t, pd, caseOrg())
	h.inputs["pagerduty-escalation-policies"] = "PEP0001"
	h.inputs["pagerduty-schedules"] = ""
	writes := func(hours int) int {
		t.Helper()
		h.clock.Sleep(t.Context(), time.Duration(hours)*time.Hour)
		h.sdm.ResetCounts()
		if code := h.run(); code != 0 {
			t.Fatalf("exit %d\n%s", code, h.stderr)
		}
		return h.sdm.Writes()
	}
	if n := writes(0); n != 1 {
		t.Fatalf("first run: %d writes, want 1", n)
	}
	for i := 1; i <= 6; i++ {
		if n := writes(1); n != 0 {
			t.Errorf("run %d hours later: %d writes, want 0", i, n)
		}
	}
	if n := writes(1); n == 0 {
		t.Errorf("7 hours later, with under three quarters of the window covered: no write")
	}
	got := h.grants()
	if len(got) != 1 || !strings.HasSuffix(got[0], "2026-03-07T19:00:00Z") {
		t.Errorf("grants = %q, want one reaching the end of the window from 7 hours later", got)
	}
}
