package job_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// Ensure a long apply logs how many writes are done of how many, at most
// once every few seconds of the run's clock, and never the last one (the
// "done" line says that).
func TestApplyShowsProgress(t *testing.T) {
	const people = 12
	pd := pagerdutytest.Org{
		EscalationPolicies: []pagerdutytest.Policy{{ID: "PEP0001", Name: "Primary"}},
		Schedules:          []pagerdutytest.Schedule{{ID: "PSCHED1", Name: "Primary", EscalationPolicies: []string{"PEP0001"}}},
	}
	sdm := strongdmtest.Org{Resources: []strongdmtest.Resource{{ID: "rs-0001", Name: "prod-db", Type: "postgres"}}}
	for i := range people {
		id, email := fmt.Sprintf("PUSER%02d", i), fmt.Sprintf("user%02d@example.com", i)
		pd.Users = append(pd.Users, pagerdutytest.User{ID: id, Name: "User " + id, Email: email})
		pd.Schedules[0].Users = append(pd.Schedules[0].Users, id)
		pd.OnCalls = append(pd.OnCalls, shift(id, 1, "2026-03-06T17:00:00Z", "2026-03-07T05:00:00Z"))
		sdm.Accounts = append(sdm.Accounts, strongdmtest.Account{ID: fmt.Sprintf("a-%04d", i+1), Kind: "user", Email: email})
	}
	h := newHarness(t, pd, sdm)
	// Every strongDM call takes 2s of the fake clock: 12 writes, 4 at a
	// time, take at least 6s, so some progress must show.
	h.sdm.SetSleep(h.clock.Sleep)
	h.sdm.SetLatency(2 * time.Second)
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if got := len(h.sdm.Grants()); got != people {
		t.Fatalf("%d grants, want %d", got, people)
	}

	lines := regexp.MustCompile(`msg=applying done=(\d+) total=(\d+)`).FindAllStringSubmatch(h.stderr, -1)
	if len(lines) == 0 {
		t.Fatalf("no progress line in the log:\n%s", h.stderr)
	}
	// Each call advances the clock by 2s and at most 4 run at once, so
	// lines 5s apart cannot number more than writes/2.
	if len(lines) > people/2 {
		t.Errorf("%d progress lines for %d writes, want at most %d:\n%s", len(lines), people, people/2, h.stderr)
	}
	prev := 0
	for _, l := range lines {
		done, _ := strconv.Atoi(l[1])
		if l[2] != strconv.Itoa(people) {
			t.Errorf("progress total = %s, want %d", l[2], people)
		}
		if done <= prev || done >= people {
			t.Errorf("progress done = %d after %d, want rising and below %d", done, prev, people)
		}
		prev = done
	}
	if strings.Count(h.stderr, "msg=applying") != len(lines) {
		t.Errorf("a progress line has an unexpected shape:\n%s", h.stderr)
	}
}
