package job_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// Reconcile cases: the job end to end against both emulators, at the
// harness's now (2026-03-06 12:00 UTC).

func hoursFromNow(h float64) time.Time { return now.Add(time.Duration(h * float64(time.Hour))) }

func sdmGrant(account string, from, to float64) strongdmtest.Grant {
	return strongdmtest.Grant{AccountID: account, ResourceID: "rs-0001", Start: hoursFromNow(from), End: hoursFromNow(to)}
}

func pdShift(user string, from, to float64) pagerdutytest.OnCall {
	return shift(user, 1, hoursFromNow(from).Format(time.RFC3339), hoursFromNow(to).Format(time.RFC3339))
}

// planRows reads the plan output as "status email resource start end".
func planRows(t *testing.T, h *harness) []string {
	t.Helper()
	var rows []map[string]string
	if err := json.Unmarshal([]byte(h.output("plan")), &rows); err != nil {
		t.Fatalf("plan output: %v\n%s", err, h.output("plan"))
	}
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join([]string{r["status"], r["email"], r["resource"], r["start"], r["end"]}, " "))
	}
	return out
}

// Ensure a dry run shows would create, would extend and would revoke, in
// the summary and in the plan output alike, and writes nothing.
func TestReconcileDryRun(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 5, 29), pdShift("PBOB001", 0, 8)}
	sdm := caseOrg()
	sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0002", -2, 3), sdmGrant("a-0003", 1, 6)}
	h := newHarness(t, pd, sdm)
	h.inputs["revoke"] = "true"
	if code := h.run("-dry-run=true"); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	want := []string{
		"would create alice@example.com prod-db 2026-03-06T17:00:00Z 2026-03-07T17:00:00Z",
		"would extend bob@example.com prod-db 2026-03-06T15:00:00Z 2026-03-06T20:00:00Z",
		"would revoke carol@example.com prod-db 2026-03-06T13:00:00Z 2026-03-06T18:00:00Z",
	}
	if got := planRows(t, h); !slices.Equal(got, want) {
		t.Errorf("plan output =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, s := range []string{"| would create |", "| would extend |", "| would revoke |"} {
		if !strings.Contains(h.summary, s) {
			t.Errorf("summary has no %q row:\n%s", s, h.summary)
		}
	}
	if n := h.sdm.Writes(); n != 0 {
		t.Errorf("a dry run made %d writes", n)
	}
}

// Ensure a person who reaches a resource through a role gets no grant and
// is shown as already having access through it.
func TestReconcileRoleAccess(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
	sdm := caseOrg()
	sdm.RoleAccess = []strongdmtest.RoleAccess{{AccountID: "a-0001", ResourceID: "rs-0001", RoleID: "r-0001"}}
	h := newHarness(t, pd, sdm)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if got := h.grants(); len(got) != 0 {
		t.Errorf("grants = %q, want none", got)
	}
	if !strings.Contains(h.summary, "already has access (role)") {
		t.Errorf("summary does not say alice has access through a role:\n%s", h.summary)
	}
	if got := h.output("existing"); got != "1" {
		t.Errorf("existing = %q, want 1", got)
	}
}

// Ensure every source of on-call data reaches strongDM: an escalation
// policy targeting a person directly (no start or end: the whole window),
// a schedule used by no policy (its final schedule, with a note), and a
// schedule with nobody on call (a warning, and the run goes on).
func TestReconcileSources(t *testing.T) {
	pd := casePeople()
	pd.Schedules = append(pd.Schedules,
		pagerdutytest.Schedule{ID: "PSHADOW", Name: "Shadow", Users: []string{"PBOB001"},
			FinalSchedule: []pagerdutytest.Span{{UserID: "PBOB001", Start: "2026-03-06T18:00:00Z", End: "2026-03-07T02:00:00Z"}}})
	pd.OnCalls = []pagerdutytest.OnCall{{UserID: "PCAROL1", EscalationPolicyID: "PEP0002", EscalationLevel: 1}}
	h := newHarness(t, pd, caseOrg())
	h.inputs["pagerduty-schedules"] = "PSCHED1,PSHADOW"
	h.inputs["pagerduty-escalation-policies"] = "PEP0002"
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	want := []string{
		"a-0002 rs-0001 2026-03-06T18:00:00Z → 2026-03-07T02:00:00Z",
		"a-0003 rs-0001 2026-03-06T12:00:00Z → 2026-03-07T12:00:00Z",
	}
	got := h.grants()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}
	for _, s := range []string{`nobody is on call for schedule "PSCHED1"`, `schedule "PSHADOW" is used by no escalation policy`} {
		if !strings.Contains(h.summary, s) {
			t.Errorf("summary does not say %q:\n%s", s, h.summary)
		}
	}
}

// Ensure a partly covered shift is extended in both strongDM modes: by a
// second grant where strongDM allows it, else by replacing the grant with
// one for the whole interval.
func TestReconcileExtend(t *testing.T) {
	for _, tt := range []struct {
		name     string
		multiple bool
		status   string
		grants   []string
	}{
		// The replacement starts now, not at the old grant's start: the
		// past gives no access, and a grant replaced run after run must
		// not grow past max-duration.
		{"one grant per pair", false, "replaced", []string{
			"a-0001 rs-0001 2026-03-06T12:00:00Z → 2026-03-06T20:00:00Z",
		}},
		{"several grants per pair", true, "extended", []string{
			"a-0001 rs-0001 2026-03-06T10:00:00Z → 2026-03-06T15:00:00Z",
			"a-0001 rs-0001 2026-03-06T15:00:00Z → 2026-03-06T20:00:00Z",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
			sdm := caseOrg()
			sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -2, 3)}
			h := newHarness(t, pd, sdm)
			h.sdm.AllowMultipleGrants(tt.multiple)
			h.inputs["revoke"] = "true"
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s", code, h.stderr)
			}
			if got := h.grants(); !slices.Equal(got, tt.grants) {
				t.Errorf("grants = %q, want %q", got, tt.grants)
			}
			if !strings.Contains(h.summary, "| "+tt.status+" |") {
				t.Errorf("summary has no %q row:\n%s", tt.status, h.summary)
			}
		})
	}
}

// Ensure an override that takes part of a shift under way cuts the grant
// at the override, in both strongDM modes, and that the rest of the shift
// is asked for at once: made where strongDM allows several grants per
// pair, deferred to the run after the cut grant ends where it keeps one.
func TestReconcileTrim(t *testing.T) {
	for _, multiple := range []bool{false, true} {
		t.Run(map[bool]string{false: "one grant per pair", true: "several grants per pair"}[multiple], func(t *testing.T) {
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", -4, 4), pdShift("PBOB001", 4, 6), pdShift("PALICE1", 6, 10)}
			sdm := caseOrg()
			sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -2, 10)}
			h := newHarness(t, pd, sdm)
			h.sdm.AllowMultipleGrants(multiple)
			h.inputs["revoke"] = "true"
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s", code, h.stderr)
			}
			want := []string{
				"a-0001 rs-0001 2026-03-06T10:00:00Z → 2026-03-06T16:00:00Z",
				"a-0002 rs-0001 2026-03-06T16:00:00Z → 2026-03-06T18:00:00Z",
			}
			later := "| deferred |"
			if multiple {
				want = slices.Insert(want, 1, "a-0001 rs-0001 2026-03-06T18:00:00Z → 2026-03-06T22:00:00Z")
				later = "| created |"
			}
			got := h.grants()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("grants = %q, want %q", got, want)
			}
			for _, s := range []string{"| revoked |", later, "| created |"} {
				if !strings.Contains(h.summary, s) {
					t.Errorf("summary has no %q row:\n%s", s, h.summary)
				}
			}

			// The run after the cut grant ends gives alice the rest.
			h.clock.mu.Lock()
			h.clock.t = hoursFromNow(5)
			h.clock.mu.Unlock()
			if code := h.run(); code != 0 {
				t.Fatalf("second run: exit %d\n%s", code, h.stderr)
			}
			want = []string{
				"a-0001 rs-0001 2026-03-06T18:00:00Z → 2026-03-06T22:00:00Z",
				"a-0002 rs-0001 2026-03-06T16:00:00Z → 2026-03-06T18:00:00Z",
			}
			got = h.grants()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("after the second run, grants = %q, want %q", got, want)
			}
		})
	}
}

// Ensure a failed replacement never cuts off the person on call: where
// strongDM refuses the cut grant and the old one is already deleted, the
// old one is put back and its revocation is not attempted. With an email
// map the revoke row sorts before the create row in the report, and the
// order of the writes must not follow it.
func TestReconcileTrimRestores(t *testing.T) {
	for _, tt := range []struct{ name, email, emailMap string }{
		{"same email", "alice@example.com", ""},
		{"email map", "zed.alice@pd.example.com", "zed.alice@pd.example.com = alice@example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := casePeople()
			pd.Users[0].Email = tt.email
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", -4, 4)}
			sdm := caseOrg()
			sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -2, 10)}
			h := newHarness(t, pd, sdm)
			h.inputs["revoke"] = "true"
			h.inputs["email-map"] = tt.emailMap
			h.sdm.Fail("AccountGrants.Create", 1, codes.AlreadyExists)
			h.sdm.Fail("AccountGrants.Create", 1, codes.PermissionDenied)
			if code := h.run(); code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, h.stderr)
			}
			want := []string{"a-0001 rs-0001 2026-03-06T10:00:00Z → 2026-03-06T22:00:00Z"}
			if got := h.grants(); !slices.Equal(got, want) {
				t.Errorf("grants = %q, want the old one back %q", got, want)
			}
			if n := h.sdm.Calls("AccountGrants.Delete"); n != 1 {
				t.Errorf("%d deletes, want 1 (making way, none for the revoke row)", n)
			}
			for _, s := range []string{"| failed |", "| not attempted |"} {
				if !strings.Contains(h.summary, s) {
					t.Errorf("summary has no %q row:\n%s", s, h.summary)
				}
			}
		})
	}
}

// Ensure a replacement whose old grant cannot be deleted leaves it alone.
func TestReconcileTrimDeleteFails(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", -4, 4)}
	sdm := caseOrg()
	sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -2, 10)}
	h := newHarness(t, pd, sdm)
	h.inputs["revoke"] = "true"
	h.sdm.Fail("AccountGrants.Delete", 1, codes.PermissionDenied)
	if code := h.run(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, h.stderr)
	}
	want := []string{"a-0001 rs-0001 2026-03-06T10:00:00Z → 2026-03-06T22:00:00Z"}
	if got := h.grants(); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want the old one untouched %q", got, want)
	}
	if n := h.sdm.Calls("AccountGrants.Delete"); n != 1 {
		t.Errorf("%d deletes, want 1", n)
	}
}

// revokeOrg has alice on call and, on prod-db, grants that revocation must
// leave alone beside the one it must remove.
func revokeOrg() (pagerdutytest.Org, strongdmtest.Org) {
	pd := casePeople()
	pd.Users = append(pd.Users, pagerdutytest.User{ID: "PDAVE01", Name: "Dave", Email: "dave@example.com"})
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
	sdm := caseOrg()
	sdm.Resources = append(sdm.Resources, strongdmtest.Resource{ID: "rs-0002", Name: "other-db", Type: "postgres"})
	sdm.Accounts = append(sdm.Accounts, accountFor("a-0004", "dave@example.com"))
	requested := sdmGrant("a-0003", -1, 5)
	requested.ID, requested.AccessRequestID = "ag-request", "ar-0001"
	permanent := strongdmtest.Grant{ID: "ag-permanent", AccountID: "a-0002", ResourceID: "rs-0001", Start: hoursFromNow(-100)}
	unmanaged := sdmGrant("a-0002", -1, 5)
	unmanaged.ID, unmanaged.ResourceID = "ag-unmanaged", "rs-0002"
	nonMember := sdmGrant("a-0004", -1, 5)
	nonMember.ID = "ag-nonmember"
	stale := sdmGrant("a-0003", 10, 20)
	stale.ID = "ag-stale"
	sdm.Grants = []strongdmtest.Grant{requested, permanent, unmanaged, nonMember, stale}
	return pd, sdm
}

func grantIDs(h *harness) []string {
	var ids []string
	for _, g := range h.sdm.Grants() {
		ids = append(ids, g.ID)
	}
	slices.Sort(ids)
	return ids
}

// Ensure revocation removes only a temporary grant, not from an access
// request, on a managed resource, of a member of the configured schedules,
// and only when the on-call data is complete and names somebody.
func TestReconcileRevokeSafety(t *testing.T) {
	kept := []string{"ag-nonmember", "ag-permanent", "ag-request", "ag-unmanaged"}
	t.Run("revokes only the stale grant of a member", func(t *testing.T) {
		pd, sdm := revokeOrg()
		h := newHarness(t, pd, sdm)
		h.sdm.AllowMultipleGrants(true)
		h.inputs["revoke"] = "true"
		if code := h.run(); code != 0 {
			t.Fatalf("exit %d\n%s", code, h.stderr)
		}
		ids := grantIDs(h)
		if slices.Contains(ids, "ag-stale") {
			t.Errorf("grants = %q: carol's stale grant is still there", ids)
		}
		for _, id := range kept {
			if !slices.Contains(ids, id) {
				t.Errorf("grants = %q: %s was revoked", ids, id)
			}
		}
		if got := h.output("revoked"); got != "1" {
			t.Errorf("revoked = %q, want 1", got)
		}
		if !strings.Contains(h.summary, "| revoked |") {
			t.Errorf("summary has no revoked row:\n%s", h.summary)
		}
	})
	for _, tt := range []struct {
		name  string
		setup func(h *harness)
		code  int
		note  string // in the summary
	}{
		{"not when PagerDuty fails", func(h *harness) {
			h.pd.Fail("/oncalls", -1, http.StatusInternalServerError, nil, "")
		}, 1, "ask PagerDuty who is on call"},
		{"not when a member lookup fails", func(h *harness) {
			h.pd.Fail("/schedules/PSCHED1", -1, http.StatusInternalServerError, nil, "")
		}, 1, "ask PagerDuty who is on call"},
		{"not when nobody is on call", func(h *harness) {
			pd, _ := revokeOrg()
			pd.OnCalls = nil
			h.pd.SetOrg(pd)
		}, 0, "Nothing was revoked: PagerDuty reported nobody on call"},
		{"not beyond max-changes", func(h *harness) {
			h.inputs["max-changes"] = "1"
		}, 1, "max-changes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd, sdm := revokeOrg()
			h := newHarness(t, pd, sdm)
			h.sdm.AllowMultipleGrants(true)
			h.inputs["revoke"] = "true"
			tt.setup(h)
			if code := h.run(); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, h.stderr)
			}
			if n := h.sdm.Calls("AccountGrants.Delete"); n != 0 {
				t.Errorf("%d deletes, want 0", n)
			}
			if ids := grantIDs(h); !slices.Contains(ids, "ag-stale") {
				t.Errorf("grants = %q: the stale grant was revoked", ids)
			}
			if !strings.Contains(h.summary, tt.note) {
				t.Errorf("summary does not say %q:\n%s", tt.note, h.summary)
			}
		})
	}
}

// Ensure each input that shapes access or the report does so through the
// whole job: alice is on call from 17:00 to 17:00 the next day at level 1,
// bob from 13:00 to 20:00 at level 2.
func TestReconcileInputs(t *testing.T) {
	public := filepath.Join(t.TempDir(), "public.json")
	private := filepath.Join(t.TempDir(), "private.json")
	os.WriteFile(public, []byte(`{"repository":{"private":false,"visibility":"public"}}`), 0o600)
	os.WriteFile(private, []byte(`{"repository":{"private":true,"visibility":"private"}}`), 0o600)
	for _, tt := range []struct {
		name   string
		inputs map[string]string
		extra  map[string]string
		alice  string // pagerduty email of alice
		code   int
		grants []string // sorted
		shows  []string // in the summary
		hides  []string // not in the summary
	}{
		{name: "defaults", grants: []string{
			"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z",
			"a-0002 rs-0001 2026-03-06T13:00:00Z → 2026-03-06T20:00:00Z",
		}},
		{name: "lead-time and grace-period", inputs: map[string]string{"lead-time": "30m", "grace-period": "15m"}, grants: []string{
			"a-0001 rs-0001 2026-03-06T16:30:00Z → 2026-03-07T17:15:00Z",
			"a-0002 rs-0001 2026-03-06T12:30:00Z → 2026-03-06T20:15:00Z",
		}},
		{name: "max-duration", inputs: map[string]string{"max-duration": "4h"}, grants: []string{
			"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-06T21:00:00Z",
			"a-0002 rs-0001 2026-03-06T13:00:00Z → 2026-03-06T17:00:00Z",
		}},
		{name: "escalation-levels", inputs: map[string]string{"escalation-levels": "1"}, grants: []string{
			"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z",
		}},
		{name: "email-map", alice: "alice@pd.example.com",
			inputs: map[string]string{"email-map": "alice@pd.example.com = Alice@Example.com"}, grants: []string{
				"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z",
				"a-0002 rs-0001 2026-03-06T13:00:00Z → 2026-03-06T20:00:00Z",
			}},
		{name: "unmatched without fail-on-unmatched", alice: "alice@pd.example.com", grants: []string{
			"a-0002 rs-0001 2026-03-06T13:00:00Z → 2026-03-06T20:00:00Z",
		}, shows: []string{"alice@pd.example.com"}},
		{name: "fail-on-unmatched", alice: "alice@pd.example.com", inputs: map[string]string{"fail-on-unmatched": "true"},
			code: 1, grants: []string{"a-0002 rs-0001 2026-03-06T13:00:00Z → 2026-03-06T20:00:00Z"}},
		{name: "time-zone", inputs: map[string]string{"time-zone": "America/New_York"},
			shows: []string{"2026-03-06 12:00 EST"}, hides: []string{"17:00 UTC"}},
		{name: "redact", inputs: map[string]string{"redact": "true"},
			shows: []string{`a\*\*\*@example.com`}, hides: []string{"alice@example.com"}},
		{name: "redact auto in a public repository", inputs: map[string]string{"redact": "auto"},
			extra: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": public},
			shows: []string{`a\*\*\*@example.com`}, hides: []string{"alice@example.com"}},
		{name: "redact auto in a private repository", inputs: map[string]string{"redact": "auto"},
			extra: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": private},
			shows: []string{"alice@example.com"}},
		{name: "redact auto in Actions without an event", inputs: map[string]string{"redact": "auto"},
			extra: map[string]string{"GITHUB_ACTIONS": "true"},
			shows: []string{`a\*\*\*@example.com`}, hides: []string{"alice@example.com"}},
		{name: "redact auto outside Actions", inputs: map[string]string{"redact": "auto"},
			shows: []string{"alice@example.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pd := casePeople()
			if tt.alice != "" {
				pd.Users[0].Email = tt.alice
			}
			pd.OnCalls = []pagerdutytest.OnCall{
				shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
				shift("PBOB001", 2, "2026-03-06T13:00:00Z", "2026-03-06T20:00:00Z"),
			}
			h := newHarness(t, pd, caseOrg())
			for k, v := range tt.inputs {
				h.inputs[k] = v
			}
			for k, v := range tt.extra {
				h.extra[k] = v
			}
			if code := h.run(); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, h.stderr)
			}
			if tt.grants != nil {
				got := h.grants()
				slices.Sort(got)
				if !slices.Equal(got, tt.grants) {
					t.Errorf("grants = %q, want %q", got, tt.grants)
				}
			}
			for _, s := range tt.shows {
				if !strings.Contains(h.summary, s) {
					t.Errorf("summary does not show %q:\n%s", s, h.summary)
				}
			}
			for _, s := range tt.hides {
				if strings.Contains(h.summary, s) || strings.Contains(h.outputs, s) {
					t.Errorf("summary or outputs show %q:\n%s\n%s", s, h.summary, h.outputs)
				}
			}
		})
	}
}
