package job_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// A Create refused after a transient failure (strongdm.ErrExistsAfterRetry)
// is "created" only if the pair's grants show it: here an access request's
// grant holds the pair and nothing was made.
func TestStoredAfterRetryIsChecked(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
	h := newHarness(t, pd, caseOrg())
	h.sdm.AllowMultipleGrants(false)
	if _, err := h.sdm.AddGrant(strongdm.Grant{AccountID: "a-0001", ResourceID: "rs-0001",
		Start: hoursFromNow(-3), End: hoursFromNow(5), AccessRequestID: "ar-0001"}); err != nil {
		t.Fatal(err)
	}
	h.sdm.Fail("AccountGrants.Create", 1, codes.Unavailable) // not applied
	h.run()
	if !covered(h, hoursFromNow(5), hoursFromNow(8)) {
		if got := tableStatus(h.summary, "alice@example.com"); got == "created" {
			t.Errorf("status %q, exit %d, but 17:00-20:00 is not granted: %q", got, h.code, aliceGrants(h))
		}
	}
}

// With revoke on, a grant still needed by a later shift is never revoked
// to make way for an earlier one: the person would start that shift
// without access.
func TestLaterShiftKeepsItsGrantWithRevoke(t *testing.T) {
	for _, multiple := range []bool{false, true} {
		t.Run(pairMode[multiple], func(t *testing.T) {
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 0.5), pdShift("PALICE1", 0.75, 8)}
			sdm := caseOrg()
			sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", 0.75, 8)}
			h := newHarness(t, pd, sdm)
			h.sdm.AllowMultipleGrants(multiple)
			h.inputs["revoke"] = "true"
			h.run()
			if !covered(h, hoursFromNow(0.75), hoursFromNow(8)) {
				t.Errorf("exit %d; the 12:45-20:00 shift lost its grant: %q\n%s", h.code, aliceGrants(h), h.summary)
			}
		})
	}
}

// Where strongDM allows several grants per pair, a later separate shift of
// a person whose earlier shift is created in the same run is made at once.
func TestLaterShiftCreatedAtOnceUnderSeveralGrants(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 0.25), pdShift("PALICE1", 0.5, 8)}
	h := newHarness(t, pd, caseOrg())
	h.sdm.AllowMultipleGrants(true)
	h.run()
	if !covered(h, hoursFromNow(0.5), hoursFromNow(8)) {
		t.Errorf("exit %d; the 12:30 shift has no grant until the next run: %q\n%s", h.code, aliceGrants(h), h.summary)
	}
}

// A delete whose last attempt is applied but answered Unavailable is
// followed by putting the grant back: the person on call keeps access.
func TestAppliedDeleteIsRestored(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 8)}
	sdm := caseOrg()
	sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -2, 3)}
	h := newHarness(t, pd, sdm)
	h.sdm.AllowMultipleGrants(false)
	h.sdm.Fail("AccountGrants.Delete", 3, codes.Unavailable)
	h.sdm.Fail("AccountGrants.Delete", 1, codes.Unavailable, strongdmtest.ApplyThenFail())
	h.run()
	if !covered(h, hoursFromNow(0), hoursFromNow(3)) {
		t.Errorf("exit %d; alice is on call with no grant at all: %q\n%s", h.code, aliceGrants(h), h.summary)
	}
}

// With revoke on, a grant covering two shifts (an override took a slice
// between them) is trimmed to the first, and the second is created at once
// where strongDM allows several grants per pair. (Where it keeps one, the
// second waits for the trimmed grant to end: see README's known issues.)
func TestTrimCreatesTheRestUnderSeveralGrants(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{pdShift("PALICE1", 0, 0.25), pdShift("PBOB001", 0.25, 0.5), pdShift("PALICE1", 0.5, 8)}
	sdm := caseOrg()
	sdm.Grants = []strongdmtest.Grant{sdmGrant("a-0001", -1, 8)}
	h := newHarness(t, pd, sdm)
	h.sdm.AllowMultipleGrants(true)
	h.inputs["revoke"] = "true"
	h.run()
	if !covered(h, hoursFromNow(0.5), hoursFromNow(8)) {
		t.Errorf("exit %d; the 12:30-20:00 shift lost its grant: %q\n%s", h.code, aliceGrants(h), h.summary)
	}
}
