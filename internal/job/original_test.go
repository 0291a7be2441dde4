package job_test

import (
	"strings"
	"testing"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// The original script took resources[0] of a name lookup: a missing name
// crashed it and a duplicate name silently picked one. Both are
// configuration errors here, found before anything is asked of PagerDuty
// or written.
func TestResourceNames(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		org       func(*strongdmtest.Org)
		want      string
	}{
		{"unknown name", "prod-db\nno-such-db", nil, `resources: no strongDM resource is named "no-such-db"`},
		{"name of two resources", "prod-db", func(o *strongdmtest.Org) {
			o.Resources = append(o.Resources, strongdmtest.Resource{ID: "rs-0002", Name: "prod-db", Type: "mysql"})
		}, `resources: 2 strongDM resources are named "prod-db" (rs-0001, rs-0002)`},
		{"a name strongDM matches only case-insensitively", "PROD-DB", nil, `resources: no strongDM resource is named "PROD-DB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
			org := caseOrg()
			if tt.org != nil {
				tt.org(&org)
			}
			h := newHarness(t, pd, org)
			h.inputs["resources"] = tt.resources
			if code := h.run(); code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, h.stderr)
			}
			// Log lines quote their message.
			if !strings.Contains(strings.ReplaceAll(h.stderr, `\"`, `"`), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, h.stderr)
			}
			if h.pd.Total() != 0 || h.sdm.Writes() != 0 {
				t.Errorf("PagerDuty requests %d, strongDM writes %d: want none", h.pd.Total(), h.sdm.Writes())
			}
		})
	}
}

// The original looked one day ahead whatever the schedule between runs: a
// late run left the next shift without access. The window input sets how
// far ahead a run grants.
func TestWindowLooksAhead(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		shift("PBOB001", 1, "2026-03-07T17:00:00Z", "2026-03-08T17:00:00Z"),
	}
	for _, tt := range []struct {
		window string
		grants int
	}{{"2h", 0}, {"6h", 1}, {"48h", 2}} {
		t.Run(tt.window, func(t *testing.T) {
			h := newHarness(t, pd, caseOrg())
			h.inputs["window"] = tt.window
			if code := h.run(); code != 0 {
				t.Fatalf("exit %d\n%s", code, h.stderr)
			}
			if got := h.grants(); len(got) != tt.grants {
				t.Errorf("window %s: grants %q, want %d", tt.window, got, tt.grants)
			}
		})
	}
}

// -at plans as if it were another time: for previews and replays only. A
// plan for another time, applied now, would trim or revoke the grants of
// the people on call now.
func TestAtOtherTimeOnlyDryRun(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	h := newHarness(t, pd, caseOrg())
	if code := h.run("-at", "2026-03-01T12:00:00Z"); code != 2 {
		t.Fatalf("live run at another time: exit %d, want 2", code)
	}
	if !strings.Contains(h.stderr, "at: ") || h.pd.Total() != 0 || h.sdm.Writes() != 0 {
		t.Errorf("want an error naming -at and no request; PagerDuty %d, writes %d\n%s", h.pd.Total(), h.sdm.Writes(), h.stderr)
	}
	if code := h.run("-at", "2026-03-06T13:00:00Z", "-dry-run"); code != 0 {
		t.Fatalf("dry run at another time: exit %d\n%s", code, h.stderr)
	}
	if !strings.Contains(h.summary, "would create") {
		t.Errorf("dry run summary:\n%s", h.summary)
	}
}
