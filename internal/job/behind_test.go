package job_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
	"google.golang.org/grpc/codes"
)

// gapDay is the day of TestBehindShortGap: alice is on call 10:00-12:10
// and 12:40-15:00, and the job runs every hour on the hour, so no run
// falls in the gap between her shifts.
var (
	gapFirst  = [2]time.Time{gapAt(10, 0), gapAt(12, 10)}
	gapSecond = [2]time.Time{gapAt(12, 40), gapAt(15, 0)}
)

func gapAt(hour, minute int) time.Time {
	return time.Date(2026, 3, 7, hour, minute, 0, 0, time.UTC)
}

// gapOnCall says whether alice is on call at minute m.
func gapOnCall(m time.Time) bool {
	for _, s := range [][2]time.Time{gapFirst, gapSecond} {
		if !m.Before(s[0]) && m.Before(s[1]) {
			return true
		}
	}
	return false
}

// gapMinutes counts, for the hour after a run at t, the minutes alice is on
// call without a grant covering the whole minute (missing), and those she
// holds a grant while off call (excess; the grace-period is 0).
func gapMinutes(t time.Time, grants []strongdm.Grant) (missing, excess int) {
	for i := range 60 {
		m := t.Add(time.Duration(i) * time.Minute)
		var full, any bool
		for _, g := range grants {
			if g.AccountID != "a-0001" {
				continue
			}
			full = full || (!g.Start.After(m) && !g.End.Before(m.Add(time.Minute)))
			any = any || (g.Start.Before(m.Add(time.Minute)) && g.End.After(m))
		}
		switch on := gapOnCall(m); {
		case on && !full:
			missing++
		case !on && any:
			excess++
		}
	}
	return missing, excess
}

func setClock(h *harness, t time.Time) {
	h.clock.mu.Lock()
	h.clock.t = t
	h.clock.mu.Unlock()
}

// Ensure a shift that follows the person's earlier shift after a gap with
// no run in it is granted on time where strongDM allows several grants per
// pair, and, where it keeps one, is reported deferred (not failed) until
// the first run after the earlier grant ends creates it. Under one grant
// per pair alice then misses 12:40-13:00, 20 minutes: the price of that
// kind of strongDM, which a grace-period of an hour or more (the time
// between runs) would avoid by merging her two shifts.
func TestBehindShortGap(t *testing.T) {
	for _, mode := range []struct {
		name     string
		multiple bool
		missing  int
		// createdAt is the run that creates the second shift's grant.
		createdAt time.Time
	}{
		{"one grant per pair", false, 20, gapAt(13, 0)},
		// The first run sees both shifts and asks for both.
		{"several grants per pair", true, 0, gapAt(8, 0)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{
				shift("PALICE1", 1, gapFirst[0].Format(time.RFC3339), gapFirst[1].Format(time.RFC3339)),
				shift("PALICE1", 1, gapSecond[0].Format(time.RFC3339), gapSecond[1].Format(time.RFC3339)),
			}
			h := newHarness(t, pd, caseOrg())
			h.sdm.AllowMultipleGrants(mode.multiple)
			h.inputs["revoke"] = "true"
			second := "alice@example.com prod-db " + gapSecond[0].Format(time.RFC3339) + " " + gapSecond[1].Format(time.RFC3339)

			var missing, excess int
			for at := gapAt(8, 0); !at.After(gapAt(15, 0)); at = at.Add(time.Hour) {
				setClock(h, at)
				creates := h.sdm.Calls("AccountGrants.Create")
				if code := h.run(); code != 0 {
					t.Fatalf("run at %s: exit %d\n%s", at.Format(time.RFC3339), code, h.stderr)
				}
				creates = h.sdm.Calls("AccountGrants.Create") - creates
				rows := planRows(t, h)
				switch {
				case at.Equal(mode.createdAt):
					// A shift under way is asked for from now.
					from := gapSecond[0]
					if at.After(from) {
						from = at
					}
					created := "created alice@example.com prod-db " + rfc(from) + " " + rfc(gapSecond[1])
					if !slices.Contains(rows, created) {
						t.Errorf("run at %s: no created row for the second shift: %q", at.Format(time.RFC3339), rows)
					}
				case !mode.multiple && at.After(gapAt(8, 0)) && at.Before(mode.createdAt):
					// Deferred behind the first shift's grant: one refused
					// create a run, and the reason says what it waits for.
					if !slices.Contains(rows, "deferred "+second) {
						t.Errorf("run at %s: no deferred row for the second shift: %q", at.Format(time.RFC3339), rows)
					}
					if creates != 1 {
						t.Errorf("run at %s: %d creates, want 1 (the refused one)", at.Format(time.RFC3339), creates)
					}
					if !strings.Contains(h.stderr, "to end at "+gapFirst[1].Format(time.RFC3339)) {
						t.Errorf("run at %s: the log does not say the shift waits for 12:10:\n%s", at.Format(time.RFC3339), h.stderr)
					}
					if !strings.Contains(h.summary, "is deferred: strongDM keeps one grant per pair") {
						t.Errorf("run at %s: the summary does not say why the shift waits:\n%s", at.Format(time.RFC3339), h.summary)
					}
					if h.output("failed") != "0" {
						t.Errorf("run at %s: failed output = %q, want 0", at.Format(time.RFC3339), h.output("failed"))
					}
				}
				m, e := gapMinutes(at, h.sdm.Grants())
				missing, excess = missing+m, excess+e
			}
			t.Logf("%d minutes of missing access, %d of excess access", missing, excess)
			if missing != mode.missing || excess != 0 {
				t.Errorf("missing %d, excess %d minutes; want %d and 0", missing, excess, mode.missing)
			}
		})
	}
}

// behindOrg has alice and bob each holding the grant of a shift that ends
// in an hour, with their next shift in three hours, and carol needing a
// grant of her own.
func behindOrg() (pagerdutytest.Org, strongdmtest.Org) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{
		pdShift("PALICE1", -1, 1), pdShift("PALICE1", 3, 5),
		pdShift("PBOB001", -1, 1), pdShift("PBOB001", 3, 5),
		pdShift("PCAROL1", 0, 2),
	}
	sdm := caseOrg()
	sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -1, 1), sdmGrant("a-0002", -1, 1)}
	return pd, sdm
}

// Ensure that once strongDM refuses one create behind an earlier grant,
// the run defers its other such creates without calling strongDM, and
// still makes its other writes; where strongDM allows several grants each
// is made.
func TestBehindSparesCalls(t *testing.T) {
	for _, tt := range []struct {
		name     string
		multiple bool
		creates  int
		status   string // of alice's and bob's later shifts
	}{
		{"one grant per pair", false, 2, "deferred"},
		{"several grants per pair", true, 3, "created"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pd, sdm := behindOrg()
			h := newHarness(t, pd, sdm)
			h.sdm.AllowMultipleGrants(tt.multiple)
			// One pair at a time, so alice's refusal comes before bob's turn.
			h.inputs["concurrency"] = "1"
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s", code, h.stderr)
			}
			if n := h.sdm.Calls("AccountGrants.Create"); n != tt.creates {
				t.Errorf("%d creates, want %d", n, tt.creates)
			}
			rows := planRows(t, h)
			for _, want := range []string{
				tt.status + " alice@example.com prod-db " + rfc(hoursFromNow(3)) + " " + rfc(hoursFromNow(5)),
				tt.status + " bob@example.com prod-db " + rfc(hoursFromNow(3)) + " " + rfc(hoursFromNow(5)),
				"created carol@example.com prod-db " + rfc(hoursFromNow(0)) + " " + rfc(hoursFromNow(2)),
			} {
				if !slices.Contains(rows, want) {
					t.Errorf("no row %q in %q", want, rows)
				}
			}
			if !tt.multiple && !strings.Contains(h.stderr, "refused another grant behind an earlier one in this run") {
				t.Errorf("the log does not say why bob's create was spared:\n%s", h.stderr)
			}
		})
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Ensure a create behind an earlier grant whose retry strongDM answers
// ALREADY_EXISTS is not counted as made when the earlier grant is what
// strongDM found: the first attempt timed out without being stored.
func TestBehindRetryNotStored(t *testing.T) {
	pd, sdm := behindOrg()
	pd.OnCalls = pd.OnCalls[:2] // alice only
	h := newHarness(t, pd, sdm)
	h.sdm.Fail("AccountGrants.Create", 1, codes.DeadlineExceeded)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if n := h.sdm.Calls("AccountGrants.Create"); n != 2 {
		t.Errorf("%d creates, want 2 (the timed-out one and its retry)", n)
	}
	want := "deferred alice@example.com prod-db " + rfc(hoursFromNow(3)) + " " + rfc(hoursFromNow(5))
	if rows := planRows(t, h); !slices.Contains(rows, want) {
		t.Errorf("no row %q in %q", want, rows)
	}
	var alice []string
	for _, g := range h.sdm.Grants() {
		if g.AccountID == "a-0001" {
			alice = append(alice, grantLine(g))
		}
	}
	if len(alice) != 1 {
		t.Errorf("alice's grants = %q, want her first one only", alice)
	}
}

// Ensure the week of TestWeek, with hank's override moved off the hour to
// 18:55-19:40, gives dave his next shift on time where strongDM allows
// several grants per pair: his first grant ends at 19:10 (with the
// grace-period) and no run falls before 19:40. Where strongDM keeps one
// grant per pair, dave misses 19:40-20:00 on both resources (40 minutes):
// see TestBehindShortGap for that mode.
func TestWeekOverrideOffTheHour(t *testing.T) {
	t.Parallel()
	changes := weekChanges()
	moved := 0
	for _, c := range changes {
		for i, o := range c.spec.overrides {
			if o.user == "PHANK01" && o.start.Equal(weekUTC(8, 18, 45)) {
				c.spec.overrides[i].start, c.spec.overrides[i].end = weekUTC(8, 18, 55), weekUTC(8, 19, 40)
				moved++
			}
		}
	}
	if moved != len(changes) {
		t.Fatalf("moved hank's override in %d of %d versions of the week", moved, len(changes))
	}
	missing, excess, _ := runWeekOf(t, changes, true, time.Time{})
	t.Logf("%d runs: %d minutes of missing access, %d minutes of excess access",
		len(missing), weekSum(missing), weekSum(excess))
	if weekSum(missing) != 0 || weekSum(excess) != 0 {
		t.Errorf("missing %d, excess %d minutes; want 0 and 0", weekSum(missing), weekSum(excess))
	}
}
