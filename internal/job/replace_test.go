package job_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oncall-access/oncall-access/internal/job"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// The tests of this file cover how the applier replaces grants where
// strongDM keeps one grant per (account, resource) pair, and what it says
// when strongDM refuses a grant. The harness's now is 2026-03-06 12:00 UTC.

// pairMode names a strongDM mode in subtest names.
var pairMode = map[bool]string{false: "one grant per pair", true: "several grants per pair"}

// aliceGrants are alice's grants on prod-db, as "start → end" lines, with
// " request" after an access request's grant.
func aliceGrants(h *harness) []string {
	var out []string
	for _, g := range h.sdm.Grants() {
		if g.AccountID != "a-0001" {
			continue
		}
		line := g.Start.UTC().Format(time.RFC3339) + " → " + g.End.UTC().Format(time.RFC3339)
		if g.End.IsZero() {
			line = g.Start.UTC().Format(time.RFC3339) + " → no end"
		}
		if g.AccessRequestID != "" {
			line += " request"
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// covered says whether alice's grants cover from..to.
func covered(h *harness, from, to time.Time) bool {
	for _, g := range h.sdm.Grants() {
		if g.AccountID == "a-0001" && !g.Start.After(from) && (g.End.IsZero() || !g.End.Before(to)) {
			return true
		}
	}
	return false
}

// hourLine is "start → end" of hours from now.
func hourLine(from, to float64) string {
	return hoursFromNow(from).Format(time.RFC3339) + " → " + hoursFromNow(to).Format(time.RFC3339)
}

// Ensure an earlier shift is granted when the pair already holds a grant
// for a later one (revoke off): it used to wait for the later grant to
// end, after the shift was over, and the run said nothing.
func TestEarlierShiftBeforeLaterGrant(t *testing.T) {
	for _, multiple := range []bool{false, true} {
		t.Run(pairMode[multiple], func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 2, 4), pdShift("PALICE1", 8, 16)}
			sdm := caseOrg()
			sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", 8, 16)}
			h := newHarness(t, pd, sdm)
			h.sdm.AllowMultipleGrants(multiple)
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, h.stderr, h.summary)
			}
			if !covered(h, hoursFromNow(2), hoursFromNow(4)) || !covered(h, hoursFromNow(8), hoursFromNow(16)) {
				t.Errorf("alice's shifts are not both covered: %q", aliceGrants(h))
			}
			// The price under one grant per pair: access from 16:00 to
			// 20:00 between the shifts, rather than none during the first.
			want := []string{hourLine(2, 16)}
			if multiple {
				want = []string{hourLine(2, 4), hourLine(8, 16)}
			}
			if got := aliceGrants(h); !slices.Equal(got, want) {
				t.Errorf("alice's grants = %q, want %q", got, want)
			}
		})
	}
}

// Ensure a grant the tool may not touch (an access request's, a permanent
// one) is never deleted, extended or made temporary, and that where it
// holds the pair the run fails saying which grant holds it, rather than
// waiting for it or claiming access.
func TestUntouchableGrants(t *testing.T) {
	request := strongdm.Grant{AccountID: "a-0001", ResourceID: "rs-0001",
		Start: hoursFromNow(-3), End: hoursFromNow(5), AccessRequestID: "ar-0001"}
	later := request
	later.Start, later.End = hoursFromNow(10), hoursFromNow(20)
	permanent := strongdm.Grant{AccountID: "a-0001", ResourceID: "rs-0001", Start: hoursFromNow(5)}
	for _, tt := range []struct {
		name     string
		grant    strongdm.Grant
		shift    [2]float64
		multiple bool
		code     int
		status   string
		reason   string // the failure's text
		want     []string
	}{
		{name: "access request covering the start", grant: request, shift: [2]float64{0, 8},
			code: 1, status: "failed", reason: "strongDM holds another grant on this pair: ag-0000000000000001 until 2026-03-06T17:00:00Z",
			want: []string{hourLine(-3, 5) + " request"}},
		{name: "access request covering the start, several grants", grant: request, shift: [2]float64{0, 8}, multiple: true,
			code: 0, status: "created", want: []string{hourLine(-3, 5) + " request", hourLine(5, 8)}},
		{name: "access request after the shift", grant: later, shift: [2]float64{2, 4},
			code: 1, status: "failed", reason: "strongDM holds another grant on this pair: ag-0000000000000001 until 2026-03-07T08:00:00Z",
			want: []string{hourLine(10, 20) + " request"}},
		{name: "permanent grant from mid-shift", grant: permanent, shift: [2]float64{0, 8},
			code: 1, status: "failed", reason: "strongDM holds another grant on this pair: ag-0000000000000001 with no end",
			want: []string{hoursFromNow(5).Format(time.RFC3339) + " → no end"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", tt.shift[0], tt.shift[1])}
			h := newHarness(t, pd, caseOrg())
			h.sdm.AllowMultipleGrants(tt.multiple)
			if _, err := h.sdm.AddGrant(tt.grant); err != nil {
				t.Fatal(err)
			}
			h.inputs["revoke"] = "true"
			if code := h.run(); code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, h.summary)
			}
			if n := h.sdm.Calls("AccountGrants.Delete"); n != 0 {
				t.Errorf("%d deletes, want 0", n)
			}
			if got := aliceGrants(h); !slices.Equal(got, tt.want) {
				t.Errorf("alice's grants = %q, want %q", got, tt.want)
			}
			if got := tableStatus(h.summary, "alice@example.com"); got != tt.status {
				t.Errorf("status %q, want %q\n%s", got, tt.status, h.summary)
			}
			if !strings.Contains(h.summary, tt.reason) || !strings.Contains(h.stderr, tt.reason) {
				t.Errorf("summary or log does not say %q:\n%s\n%s", tt.reason, h.summary, h.stderr)
			}
		})
	}
}

// Ensure a deadline that passes between the delete of a grant being
// replaced and the create of its replacement does not leave the person
// without access: the create runs past the run's deadline, briefly.
func TestDeadlineBetweenDeleteAndCreate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		grant  strongdmtest.Grant
		shift  [2]float64
		status string
		want   []string
	}{
		// Extend: the grant is replaced by one for the whole shift.
		{"extend", sdmGrant("a-0001", -2, 3), [2]float64{0, 8}, "replaced", []string{hourLine(0, 8)}},
		// Trim (a Create naming the grant): the grant under way goes on
		// and stops where the shift ends.
		{"trim", sdmGrant("a-0001", -3, 9), [2]float64{0, 6}, "created", []string{hourLine(-3, 6)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", tt.shift[0], tt.shift[1])}
			sdm := caseOrg()
			sdm.Grants = []strongdmtest.Grant{tt.grant}
			h := newHarness(t, pd, sdm)
			h.inputs["revoke"] = "true"
			dl := deadlineDuring(h, "AccountGrants.Delete")
			code := h.run()
			if n := h.sdm.Calls("AccountGrants.Delete"); n != 1 {
				t.Fatalf("%d deletes, want 1: the deadline must fall after the delete", n)
			}
			if dl.Err() == nil {
				t.Fatal("the deadline never passed")
			}
			if code != 0 {
				t.Errorf("exit %d, want 0: every change was made\n%s\n%s", code, h.stderr, h.summary)
			}
			if !covered(h, hoursFromNow(tt.shift[0]), hoursFromNow(tt.shift[1])) {
				t.Errorf("alice is left without access for her shift: grants %q", aliceGrants(h))
			}
			if got := aliceGrants(h); !slices.Equal(got, tt.want) {
				t.Errorf("alice's grants = %q, want %q", got, tt.want)
			}
			if got := tableStatus(h.summary, "alice@example.com"); got != tt.status {
				t.Errorf("status %q, want %q\n%s", got, tt.status, h.summary)
			}
		})
	}
}

// deadlineDuring gives the run a timeout of one minute that passes during
// the first call of method: the emulator serves it (the call takes effect)
// after two minutes of fake time, and the run's clock ends the deadline
// when it reads a time past it, as the client does when the answer
// arrives. So the deadline falls right after that call.
func deadlineDuring(h *harness, method string) *fakeDeadline {
	h.inputs["timeout"] = "1m"
	dl := newFakeDeadline(now.Add(time.Minute))
	h.ctx = dl
	var once sync.Once
	h.sdm.SetLatency(time.Millisecond)
	h.sdm.SetSleep(func(ctx context.Context, _ time.Duration) error {
		if h.sdm.Calls(method) > 0 {
			once.Do(func() { h.clock.Sleep(ctx, 2*time.Minute) })
		}
		return nil
	})
	h.env = func(e *job.Env) {
		e.Now = func() time.Time {
			t := h.clock.Now()
			dl.passed(t)
			return t
		}
	}
	return dl
}

// Ensure a replacement is not started once the run's deadline has passed:
// the grant is left as it is and the row says why.
func TestNoReplaceAfterDeadline(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
	sdm := caseOrg()
	sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -2, 3)}
	h := newHarness(t, pd, sdm)
	// The create strongDM refuses takes the run past its deadline.
	dl := deadlineDuring(h, "AccountGrants.Create")
	if code := h.run(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if dl.Err() == nil {
		t.Fatal("the deadline never passed")
	}
	if got := tableStatus(h.summary, "alice@example.com"); got != "not attempted" {
		t.Errorf("status %q, want %q\n%s", got, "not attempted", h.summary)
	}

	if n := h.sdm.Calls("AccountGrants.Delete"); n != 0 {
		t.Errorf("%d deletes after the deadline, want 0", n)
	}
	if got, want := aliceGrants(h), []string{hourLine(-2, 3)}; !slices.Equal(got, want) {
		t.Errorf("alice's grants = %q, want %q", got, want)
	}
}

// Ensure an ALREADY_EXISTS answer counts as "already granted" only when
// the pair's grants cover the shift: a grant that appeared after the plan
// read the grants (a concurrent run's, say) may not.
func TestAlreadyExistsChecksCoverage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		trim   bool       // the Create names a grant it deletes to make way
		other  [2]float64 // the grant that appears, hours from now
		code   int
		status string
		reason string
	}{
		{name: "covering grant", other: [2]float64{-1, 8}, code: 0, status: "already granted"},
		{name: "short grant", other: [2]float64{-1, 1}, code: 1, status: "failed",
			reason: "strongDM holds another grant on this pair: ag-0000000000000001 until 2026-03-06T13:00:00Z"},
		{name: "short grant after making way", trim: true, other: [2]float64{-1, 1}, code: 1, status: "failed",
			reason: "strongDM holds another grant on this pair: ag-0000000000000002 until 2026-03-06T13:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 6)}
			h := newHarness(t, pd, caseOrg())
			h.inputs["revoke"] = "true"
			h.extra["GITHUB_ACTIONS"] = "true"
			h.inputs["redact"] = "false"
			method := "AccountGrants.Create"
			if tt.trim {
				// Alice's grant reaches past her shift: the plan trims it.
				if _, err := h.sdm.AddGrant(strongdm.Grant(sdmGrant("a-0001", -3, 9))); err != nil {
					t.Fatal(err)
				}
				method = "AccountGrants.Delete"
			}
			var once sync.Once
			h.sdm.SetLatency(time.Millisecond)
			h.sdm.SetSleep(func(context.Context, time.Duration) error {
				if h.sdm.Calls(method) > 0 {
					once.Do(func() {
						// Added after the delete when trimming: the emulator
						// serves the delete after this wait.
						if _, err := h.sdm.AddGrant(strongdm.Grant(sdmGrant("a-0001", tt.other[0], tt.other[1]))); err != nil {
							t.Error(err)
						}
					})
				}
				return nil
			})
			if code := h.run(); code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, h.summary)
			}
			if got := tableStatus(h.summary, "alice@example.com"); got != tt.status {
				t.Errorf("status %q, want %q\n%s", got, tt.status, h.summary)
			}
			if tt.reason != "" && (!strings.Contains(h.summary, tt.reason) || !strings.Contains(h.stdout, "::error")) {
				t.Errorf("no error annotation and failure saying %q:\n%s\n%s", tt.reason, h.stdout, h.summary)
			}
		})
	}
}

// Ensure a create whose first attempt was stored though its answer timed
// out (the retry is refused as existing) counts as made, without deleting
// the grant it extends or names, and that where only the old grant can be
// what strongDM found, the replacement still happens.
func TestStoredCreateNotReplaced(t *testing.T) {
	spent := strongdm.Grant{AccountID: "a-0001", ResourceID: "rs-0001", Start: hoursFromNow(-8), End: now}
	for _, tt := range []struct {
		name     string
		grant    strongdm.Grant
		multiple bool
		faults   []codes.Code // the first attempts' answers, in order
		status   string
		deletes  int
	}{
		{name: "extension stored", grant: strongdm.Grant(sdmGrant("a-0001", -2, 3)), multiple: true,
			faults: []codes.Code{codes.DeadlineExceeded, codes.AlreadyExists}, status: "extended", deletes: 0},
		{name: "create naming a spent grant stored", grant: spent, multiple: true,
			faults: []codes.Code{codes.DeadlineExceeded, codes.AlreadyExists}, status: "created", deletes: 0},
		{name: "extension refused under one grant per pair", grant: strongdm.Grant(sdmGrant("a-0001", -2, 3)),
			faults: []codes.Code{codes.DeadlineExceeded}, status: "replaced", deletes: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
			h := newHarness(t, pd, caseOrg())
			h.sdm.AllowMultipleGrants(tt.multiple)
			if _, err := h.sdm.AddGrant(tt.grant); err != nil {
				t.Fatal(err)
			}
			for i, c := range tt.faults {
				var opts []strongdmtest.FaultOption
				if i == 0 {
					opts = append(opts, strongdmtest.ApplyThenFail())
				}
				h.sdm.Fail("AccountGrants.Create", 1, c, opts...)
			}
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, h.stderr, h.summary)
			}
			if got := tableStatus(h.summary, "alice@example.com"); got != tt.status {
				t.Errorf("status %q, want %q\n%s", got, tt.status, h.summary)
			}
			if n := h.sdm.Calls("AccountGrants.Delete"); n != tt.deletes {
				t.Errorf("%d deletes, want %d", n, tt.deletes)
			}
			if !covered(h, hoursFromNow(3), hoursFromNow(8)) && !covered(h, now, hoursFromNow(8)) {
				t.Errorf("alice's shift is not covered: %q", aliceGrants(h))
			}
		})
	}
}

// Ensure a shift whose end is cut by max-duration or by the window, which
// moves with every run, is not extended (and, under one grant per pair,
// replaced) at every run, and that its grant never grows past max-duration,
// while the person keeps access all along.
func TestCutShiftOverRuns(t *testing.T) {
	for _, tt := range []struct {
		name       string
		final      bool // the shift comes from a final schedule, cut by the window
		maxDur     string
		maxLen     time.Duration
		maxDeletes int
	}{
		// With 8 h, the grant is replaced when under 6 h of it are left:
		// every third run.
		{name: "max-duration", maxDur: "8h", maxLen: 8 * time.Hour, maxDeletes: 8},
		// With a 24 h window, once every seven runs.
		{name: "final schedule cut by the window", final: true, maxLen: 24 * time.Hour, maxDeletes: 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 48)}
			if tt.final {
				pd.OnCalls = nil
				pd.Schedules = append(pd.Schedules, pagerdutytest.Schedule{ID: "PSHADOW", Name: "Shadow",
					Users: []string{"PALICE1"}, FinalSchedule: []pagerdutytest.Span{{UserID: "PALICE1",
						Start: now.Format(time.RFC3339), End: hoursFromNow(48).Format(time.RFC3339)}}})
			}
			h := newHarness(t, pd, caseOrg())
			if tt.final {
				h.inputs["pagerduty-schedules"] = "PSHADOW"
			}
			if tt.maxDur != "" {
				h.inputs["max-duration"] = tt.maxDur
			}
			const runs = 24
			for i := range runs {
				at := hoursFromNow(float64(i))
				h.clock.mu.Lock()
				h.clock.t = at
				h.clock.mu.Unlock()
				if code := h.run(); code != 0 {
					t.Fatalf("run at +%dh: exit %d\n%s", i, code, h.stderr)
				}
				// Access until the next run at least.
				if !covered(h, at, at.Add(time.Hour)) {
					t.Errorf("run at +%dh: alice without access: %q", i, aliceGrants(h))
				}
				for _, g := range h.sdm.Grants() {
					if g.End.Sub(g.Start) > tt.maxLen {
						t.Errorf("run at +%dh: grant %s → %s is longer than %s", i,
							g.Start.Format(time.RFC3339), g.End.Format(time.RFC3339), tt.maxLen)
					}
				}
			}
			if n := h.sdm.Calls("AccountGrants.Delete"); n > tt.maxDeletes {
				t.Errorf("%d grants replaced in %d runs, want at most %d", n, runs, tt.maxDeletes)
			}
		})
	}
}
