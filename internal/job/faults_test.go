package job_test

import (
	"context"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

// pdFault is what the PagerDuty emulator answers instead: a status, extra
// headers and a body (empty: PagerDuty's error body for the status).
type pdFault struct {
	status int
	header http.Header
	body   string
}

// sdmFault is the status the strongDM emulator answers instead.
type sdmFault struct {
	code codes.Code
	opts []strongdmtest.FaultOption
}

// faultRow is one row of the fault matrix: a fault of one call of one
// service, injected a number of times, and what the run must then have
// done. Each row starts from the same organisation: alice and bob are on
// call from 17:00 to 17:00 the next day, carol is not.
type faultRow struct {
	name    string
	service string // "pagerduty", "strongdm" or "runner" (the runner's own files and deadline)
	call    string // PagerDuty path or strongDM method the fault is on
	times   int    // how many times; -1 forever
	pd      *pdFault
	sdm     *sdmFault
	setup   func(t *testing.T, h *harness) // anything else the row needs

	code     int
	pdCalls  map[string]int    // PagerDuty requests by path; every request is counted
	sdmCalls map[string]int    // strongDM calls by method, exactly
	grants   []string          // accounts holding a grant on prod-db afterwards
	status   map[string]string // summary table status by person's email
	summary  []string          // text the summary must show
	minSlept time.Duration     // fake time spent waiting, at least
	check    func(t *testing.T, h *harness)
}

// The calls of a run that reaches apply with two people on call (one page
// of users, the grants and who reaches prod-db); creates is the number of
// AccountGrants.Create calls.
func applyCalls(creates int) map[string]int {
	m := map[string]int{"Resources.List": 1, "Accounts.List": 1, "AccountGrants.List": 1, "AccountResources.List": 1}
	if creates > 0 {
		m["AccountGrants.Create"] = creates
	}
	return m
}

// with is calls with one method's count changed.
func with(calls map[string]int, method string, n int) map[string]int {
	calls[method] = n
	return calls
}

// beforePD are the strongDM calls made before PagerDuty is asked: the
// resources are checked first, so a typo fails before any on-call data.
var beforePD = map[string]int{"Resources.List": 1}

func bothCreated() map[string]string {
	return map[string]string{"alice@example.com": "created", "bob@example.com": "created"}
}

var aliceAndBob = []string{"a-0001", "a-0002"}

func faultRows() []faultRow {
	reset2 := http.Header{"ratelimit-reset": {"2"}}
	return []faultRow{
		// PagerDuty.
		{
			name: "429 with ratelimit-reset twice then success", service: "pagerduty", call: "/oncalls", times: 2,
			pd:   &pdFault{status: 429, header: reset2},
			code: 0, pdCalls: map[string]int{"/oncalls": 3}, sdmCalls: applyCalls(2), grants: aliceAndBob,
			status: bothCreated(), minSlept: 4 * time.Second,
		},
		{
			name: "429 forever is bounded", service: "pagerduty", call: "/oncalls", times: -1,
			pd:   &pdFault{status: 429, header: reset2},
			code: 1, pdCalls: map[string]int{"/oncalls": 5}, sdmCalls: beforePD,
			summary: []string{"429", "/oncalls", "after 5 attempts", "Rate Limit Exceeded"},
		},
		{
			name: "500 once", service: "pagerduty", call: "/oncalls", times: 1,
			pd:   &pdFault{status: 500},
			code: 0, pdCalls: map[string]int{"/oncalls": 2}, sdmCalls: applyCalls(2), grants: aliceAndBob,
			status: bothCreated(), minSlept: 500 * time.Millisecond,
		},
		{
			name: "503 twice with Retry-After", service: "pagerduty", call: "/oncalls", times: 2,
			pd:   &pdFault{status: 503, header: http.Header{"Retry-After": {"3"}, "ratelimit-reset": nil}},
			code: 0, pdCalls: map[string]int{"/oncalls": 3}, sdmCalls: applyCalls(2), grants: aliceAndBob,
			status: bothCreated(), minSlept: 6 * time.Second,
		},
		{
			name: "C18 A 400 with a string errors field", service: "pagerduty", call: "/oncalls", times: 1,
			pd: &pdFault{status: 400,
				body: `{"error":{"message":"Invalid Input Provided","code":2001,"errors":"Schedule PBAD999 not found"}}`},
			code: 1, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: beforePD,
			summary: []string{"400", "Invalid Input Provided", "Schedule PBAD999 not found"},
		},
		{
			name: "C18 B 400 with error as an array", service: "pagerduty", call: "/oncalls", times: 1,
			pd:   &pdFault{status: 400, body: `{"error":["until must be within 90 days"]}`},
			code: 1, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: beforePD,
			summary: []string{"400", "until must be within 90 days"},
		},
		{
			name: "401 rejected token", service: "pagerduty", call: "/oncalls", times: 1,
			pd:   &pdFault{status: 401},
			code: 2, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: beforePD,
			summary: []string{"pagerduty-token", "401"},
		},
		{
			name: "403 token without access", service: "pagerduty", call: "/oncalls", times: 1,
			pd:   &pdFault{status: 403},
			code: 2, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: beforePD,
			summary: []string{"pagerduty-token", "403"},
		},
		{
			name: "connection refused", service: "pagerduty", call: "/oncalls", times: -1,
			setup: func(t *testing.T, h *harness) { h.inputs["pagerduty-api-url"] = closedURL(t) },
			code:  1, pdCalls: map[string]int{}, sdmCalls: beforePD,
			// The source counts its own attempts, which the emulator never saw.
			summary:  []string{"connection refused", "PagerDuty 5"},
			minSlept: 4 * time.Second,
		},
		{
			name: "404 unknown schedule", service: "pagerduty", call: "/schedules/PNOSUCH", times: 1,
			setup: func(t *testing.T, h *harness) { h.inputs["pagerduty-schedules"] = "PNOSUCH" },
			code:  2, pdCalls: map[string]int{"/oncalls": 1, "/schedules/PNOSUCH": 1}, sdmCalls: beforePD,
			summary: []string{"pagerduty-schedules", "PNOSUCH"},
		},
		{
			name: "deadline expires while waiting for the rate limit", service: "pagerduty", call: "/oncalls", times: -1,
			pd: &pdFault{status: 429, header: http.Header{"ratelimit-reset": {"60"}}},
			setup: func(t *testing.T, h *harness) {
				fakeTimeout(h, 90*time.Second)
			},
			code: 1, pdCalls: map[string]int{"/oncalls": 2}, sdmCalls: beforePD,
			summary: []string{"The run stopped early", "timeout of 1m30s expired", "list on-calls for schedules PSCHED1",
				"deadline exceeded"},
			minSlept: 90 * time.Second,
		},

		// strongDM.
		{
			name: "Unavailable three times", service: "strongdm", call: "AccountGrants.Create", times: 3,
			sdm:   &sdmFault{code: codes.Unavailable},
			setup: concurrency1,
			code:  0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(5), grants: aliceAndBob,
			status: bothCreated(), minSlept: 7 * time.Second, // 1 s, 2 s, 4 s
		},
		{
			name: "Internal once", service: "strongdm", call: "AccountGrants.Create", times: 1,
			sdm:  &sdmFault{code: codes.Internal},
			code: 0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(3), grants: aliceAndBob,
			status: bothCreated(), minSlept: time.Second,
		},
		{
			name: "DeadlineExceeded once on a read", service: "strongdm", call: "Accounts.List", times: 1,
			sdm:  &sdmFault{code: codes.DeadlineExceeded},
			code: 0, pdCalls: map[string]int{"/oncalls": 1},
			sdmCalls: map[string]int{"Resources.List": 1, "Accounts.List": 2, "AccountGrants.List": 1,
				"AccountResources.List": 1, "AccountGrants.Create": 2},
			grants: aliceAndBob, status: bothCreated(), minSlept: time.Second,
		},
		{
			name: "Unavailable forever on the resource lookup", service: "strongdm", call: "Resources.List", times: -1,
			sdm:  &sdmFault{code: codes.Unavailable},
			code: 1, pdCalls: map[string]int{}, sdmCalls: map[string]int{"Resources.List": 4},
			summary: []string{"prod-db", "giving up after 4 attempts", "Unavailable"},
		},
		{
			name: "C11 ResourceExhausted with reset_at 1 s ahead", service: "strongdm", call: "AccountGrants.Create", times: 1,
			sdm: &sdmFault{code: codes.ResourceExhausted,
				opts: []strongdmtest.FaultOption{strongdmtest.WithRateLimit(now.Add(time.Second))}},
			// A second grant for a pair would show as a duplicate.
			setup: func(t *testing.T, h *harness) { h.sdm.AllowMultipleGrants(true) },
			code:  0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(3), grants: aliceAndBob,
			status: bothCreated(), minSlept: time.Second,
		},
		{
			name: "ResourceExhausted forever is bounded", service: "strongdm", call: "AccountGrants.Create", times: -1,
			sdm:  &sdmFault{code: codes.ResourceExhausted},
			code: 1, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(22), // 11 answers each
			status:  map[string]string{"alice@example.com": "failed", "bob@example.com": "failed"},
			summary: []string{"still rate limited after 10 waits"},
		},
		{
			name: "Unauthenticated", service: "strongdm", call: "Resources.List", times: 1,
			sdm:  &sdmFault{code: codes.Unauthenticated},
			code: 2, pdCalls: map[string]int{}, sdmCalls: beforePD,
			summary: []string{"sdm-api-access-key", "sdm-api-secret-key", "Unauthenticated"},
		},
		{
			name: "PermissionDenied on a read", service: "strongdm", call: "Accounts.List", times: -1,
			sdm: &sdmFault{code: codes.PermissionDenied},
			// One at a time, so the grants are not listed once the users
			// could not be.
			setup: concurrency1,
			code:  2, pdCalls: map[string]int{"/oncalls": 1},
			sdmCalls: map[string]int{"Resources.List": 1, "Accounts.List": 1},
			summary:  []string{"needs permission user:list", "PermissionDenied"},
		},
		{
			name: "PermissionDenied on create", service: "strongdm", call: "AccountGrants.Create", times: -1,
			sdm:  &sdmFault{code: codes.PermissionDenied},
			code: 1, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(2),
			status:  map[string]string{"alice@example.com": "failed", "bob@example.com": "failed"},
			summary: []string{"needs permission grant:write"},
		},
		{
			name: "create times out after the grant was stored", service: "strongdm", call: "AccountGrants.Create", times: 1,
			sdm:   &sdmFault{code: codes.DeadlineExceeded, opts: []strongdmtest.FaultOption{strongdmtest.ApplyThenFail()}},
			setup: concurrency1,
			// The retry answers AlreadyExists: alice's grant counts as made,
			// and there is exactly one.
			code: 0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: with(applyCalls(3), "AccountGrants.List", 2), grants: aliceAndBob,
			status: bothCreated(), minSlept: time.Second,
		},
		{
			name: "one failing create among several", service: "strongdm", call: "AccountGrants.Create", times: 1,
			sdm: &sdmFault{code: codes.InvalidArgument,
				opts: []strongdmtest.FaultOption{strongdmtest.WithMessage("the grant ends too far ahead")}},
			setup: func(t *testing.T, h *harness) {
				concurrency1(t, h)
				addOnCall(h, "PCAROL1")
			},
			code: 1, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(3),
			grants: []string{"a-0002", "a-0003"},
			status: map[string]string{"alice@example.com": "failed", "bob@example.com": "created", "carol@example.com": "created"},
			summary: []string{"**2** created", "**1** failed", "### Failures", "Alice (alice@example.com) on prod-db (create)",
				"the grant ends too far ahead"},
		},
		{
			name: "Unavailable once on revoke", service: "strongdm", call: "AccountGrants.Delete", times: 1,
			sdm: &sdmFault{code: codes.Unavailable},
			setup: func(t *testing.T, h *harness) {
				h.inputs["revoke"] = "true"
				// Carol is a member of the schedule, off call, with a grant.
				if _, err := h.sdm.AddGrant(strongdm.Grant{AccountID: "a-0003", ResourceID: "rs-0001",
					Start: now.Add(-time.Hour), End: now.Add(5 * time.Hour)}); err != nil {
					t.Fatal(err)
				}
			},
			// Carol's email comes from /users, as she is not on call.
			code: 0, pdCalls: map[string]int{"/oncalls": 1, "/schedules/PSCHED1": 1, "/users/PCAROL1": 1},
			sdmCalls: map[string]int{"Resources.List": 1, "Accounts.List": 1, "AccountGrants.List": 1,
				"AccountResources.List": 1, "AccountGrants.Create": 2, "AccountGrants.Delete": 2},
			grants: aliceAndBob,
			status: map[string]string{"alice@example.com": "created", "bob@example.com": "created", "carol@example.com": "revoked"},
		},
		{
			name: "deadline expires mid-run", service: "runner", call: "timeout", times: 1,
			setup: func(t *testing.T, h *harness) {
				concurrency1(t, h)
				addOnCall(h, "PCAROL1")
				// Each create takes 1 s of fake time: alice's fits in the
				// 1.5 s, bob's does not, carol's is never tried.
				sleep := fakeTimeout(h, 1500*time.Millisecond)
				h.sdm.SetLatency(time.Second)
				h.sdm.SetSleep(func(ctx context.Context, d time.Duration) error {
					if h.sdm.Calls("AccountGrants.Create") == 0 {
						return nil // reads are instant
					}
					return sleep(ctx, d)
				})
			},
			code: 1, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(2),
			grants: []string{"a-0001"},
			status: map[string]string{"alice@example.com": "created", "bob@example.com": "failed", "carol@example.com": "not attempted"},
			summary: []string{"The run stopped early", "timeout of 1.5s expired", "**1** created", "**1** failed",
				"**1** not attempted", "Bob (bob@example.com) on prod-db (create)", "deadline exceeded",
				"Carol (carol@example.com) on prod-db (create, not attempted): the run's timeout"},
			minSlept: 1500 * time.Millisecond,
		},

		// The runner's own files.
		{
			name: "C15 B read-only summary file", service: "runner", call: "GITHUB_STEP_SUMMARY", times: 1,
			setup: func(t *testing.T, h *harness) { h.extra["GITHUB_STEP_SUMMARY"] = readOnlyFile(t, h.dir) },
			code:  0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(2), grants: aliceAndBob,
			check: func(t *testing.T, h *harness) {
				oneWarning(t, h, "job summary could not be written")
				if h.output("created") != "2" {
					t.Errorf("created output = %q, want 2", h.output("created"))
				}
			},
		},
		{
			name: "GITHUB_STEP_SUMMARY unset", service: "runner", call: "GITHUB_STEP_SUMMARY", times: 1,
			setup: func(t *testing.T, h *harness) { h.extra["GITHUB_STEP_SUMMARY"] = "" },
			code:  0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(2), grants: aliceAndBob,
			check: func(t *testing.T, h *harness) {
				// Without a summary file the summary goes to stdout.
				for email, want := range bothCreated() {
					if got := tableStatus(h.stdout, email); got != want {
						t.Errorf("stdout status of %s = %q, want %q", email, got, want)
					}
				}
				if strings.Contains(h.stdout, "::warning") || strings.Contains(h.stdout, "::error") {
					t.Errorf("annotations:\n%s", h.stdout)
				}
			},
		},
		{
			name: "GITHUB_OUTPUT in a missing directory", service: "runner", call: "GITHUB_OUTPUT", times: 1,
			setup: func(t *testing.T, h *harness) {
				h.extra["GITHUB_OUTPUT"] = filepath.Join(h.dir, "no-such-dir", "outputs")
			},
			code: 0, pdCalls: map[string]int{"/oncalls": 1}, sdmCalls: applyCalls(2), grants: aliceAndBob,
			status: bothCreated(),
			check: func(t *testing.T, h *harness) {
				oneWarning(t, h, "step outputs could not be written")
			},
		},
	}
}

// TestFaultMatrix runs every row against both emulators with the fake
// clock: no row waits for real backoff.
func TestFaultMatrix(t *testing.T) {
	rows := faultRows()
	if len(rows) < 20 {
		t.Fatalf("the matrix has %d rows, want at least 20", len(rows))
	}
	start := time.Now()
	for _, row := range rows {
		t.Run(row.service+" "+row.call+" "+row.name, func(t *testing.T) {
			pd := casePeople()
			pd.OnCalls = []pagerdutytest.OnCall{
				shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
				shift("PBOB001", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
			}
			h := newHarness(t, pd, caseOrg())
			h.extra["GITHUB_ACTIONS"] = "true" // annotations as workflow commands
			if row.setup != nil {
				row.setup(t, h)
			}
			if f := row.pd; f != nil {
				h.pd.Fail(row.call, row.times, f.status, f.header, f.body)
			}
			if f := row.sdm; f != nil {
				h.sdm.Fail(row.call, row.times, f.code, f.opts...)
			}

			code := h.run()
			if code != row.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, row.code, h.stdout, h.stderr)
			}
			for path, n := range row.pdCalls {
				if got := h.pd.Calls(path); got != n {
					t.Errorf("PagerDuty %s: %d requests, want %d", path, got, n)
				}
			}
			if got, want := h.pd.Total(), sumCounts(row.pdCalls); got != want {
				t.Errorf("PagerDuty: %d requests in all, want %d: %v", got, want, requestPaths(h.pd.Requests()))
			}
			if got := h.sdm.Counts(); !maps.Equal(got, row.sdmCalls) {
				t.Errorf("strongDM calls = %v, want %v", got, row.sdmCalls)
			}
			if got := grantHolders(h); !slices.Equal(got, row.grants) {
				t.Errorf("grants held by %q, want %q", got, row.grants)
			}
			for email, want := range row.status {
				if got := tableStatus(h.summary, email); got != want {
					t.Errorf("summary status of %s = %q, want %q", email, got, want)
				}
			}
			for _, s := range row.summary {
				if !strings.Contains(h.summary, s) {
					t.Errorf("summary does not show %q:\n%s", s, h.summary)
				}
			}
			if row.code != 0 && len(row.summary) > 0 && !strings.Contains(h.stdout, "::error::") {
				t.Errorf("no error annotation:\n%s", h.stdout)
			}
			if got := h.clock.Slept(); got < row.minSlept {
				t.Errorf("waited %s of fake time, want at least %s", got, row.minSlept)
			}
			if got := h.clock.Slept(); got > 10*time.Minute {
				t.Errorf("waited %s of fake time: retries are not bounded", got)
			}
			if row.check != nil {
				row.check(t, h)
			}
		})
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the matrix took %s, want under 10 s", d)
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func requestPaths(reqs []pagerdutytest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Path)
	}
	return out
}

// grantHolders lists the accounts holding a grant on prod-db, sorted, one
// entry per grant (a duplicate grant shows twice).
func grantHolders(h *harness) []string {
	var out []string
	for _, g := range h.sdm.Grants() {
		if g.ResourceID == "rs-0001" {
			out = append(out, g.AccountID)
		}
	}
	slices.Sort(out)
	return out
}

// tableStatus is the status cell of the summary table row of email, or ""
// when there is no such row.
func tableStatus(summary, email string) string {
	for _, line := range strings.Split(summary, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, email) {
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			return cells[len(cells)-1]
		}
	}
	return ""
}

// oneWarning checks that exactly one warning annotation mentions what.
func oneWarning(t *testing.T, h *harness, what string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(h.stdout, "\n") {
		if strings.HasPrefix(line, "::warning") && strings.Contains(line, what) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d warnings saying %q, want 1:\n%s", n, what, h.stdout)
	}
	if strings.Contains(h.stdout, "::error") {
		t.Errorf("error annotations:\n%s", h.stdout)
	}
}

func concurrency1(t *testing.T, h *harness) { h.inputs["concurrency"] = "1" }

// addOnCall adds a person to the base on-call rows.
func addOnCall(h *harness, user string) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		shift("PBOB001", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		shift(user, 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
	}
	h.pd.SetOrg(pd)
}

// closedURL is a loopback URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// readOnlyFile is a summary file nobody may write. Root ignores file
// modes, so under root (as in a container) it is a directory instead,
// which no one can open for writing.
func readOnlyFile(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "read-only-summary.md")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		f.Close()
		t.Logf("running as a user that may write a 0444 file (root): using a directory as the unwritable summary")
		path = filepath.Join(dir, "summary-dir")
		if err := os.Mkdir(path, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// fakeTimeout sets the run's timeout input and ends the run's context
// when the fake clock passes it: the run overruns its deadline in fake
// time, through the waits of the clients and of the emulators. It returns
// the sleep that does so. Shortcoming: the job's own timer (from the same
// input) still runs on the wall clock and never fires here; TestTimeoutInput
// covers that one.
func fakeTimeout(h *harness, d time.Duration) func(context.Context, time.Duration) error {
	h.inputs["timeout"] = d.String()
	dl := newFakeDeadline(h.clock.Now().Add(d))
	h.ctx = dl
	sleep := func(ctx context.Context, d time.Duration) error {
		if err := h.clock.Sleep(ctx, d); err != nil {
			return err
		}
		if dl.passed(h.clock.Now()) {
			// The emulators wait on their own request's context: answer as
			// a server whose client went away.
			return context.DeadlineExceeded
		}
		return ctx.Err()
	}
	h.env = func(e *job.Env) { e.Sleep = sleep }
	h.sdm.SetSleep(sleep)
	h.pd.SetSleep(sleep)
	return sleep
}

// fakeDeadline is a context that ends with DeadlineExceeded when passed
// sees a time at or after its deadline. It has an AfterFunc method, so the
// contexts derived from it end at once, with it, as under a real deadline.
type fakeDeadline struct {
	at   time.Time
	done chan struct{}

	mu    sync.Mutex
	err   error
	next  int
	funcs map[int]func()
}

func newFakeDeadline(at time.Time) *fakeDeadline {
	return &fakeDeadline{at: at, done: make(chan struct{}), funcs: map[int]func(){}}
}

// Deadline reports none: the deadline is in fake time, which wall-clock
// readers (gRPC, net/http) must not see.
func (d *fakeDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d *fakeDeadline) Done() <-chan struct{}       { return d.done }
func (d *fakeDeadline) Value(any) any               { return nil }

func (d *fakeDeadline) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// AfterFunc runs f when the deadline passes; the context package calls it
// to tie derived contexts to this one.
func (d *fakeDeadline) AfterFunc(f func()) (stop func() bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		go f()
		return func() bool { return false }
	}
	id := d.next
	d.next++
	d.funcs[id] = f
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		_, ok := d.funcs[id]
		delete(d.funcs, id)
		return ok
	}
}

// passed ends the context if t is at or after the deadline, and reports
// whether it has ended.
func (d *fakeDeadline) passed(t time.Time) bool {
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return true
	}
	if t.Before(d.at) {
		d.mu.Unlock()
		return false
	}
	d.err = context.DeadlineExceeded
	close(d.done)
	funcs := slices.Collect(maps.Values(d.funcs))
	clear(d.funcs)
	d.mu.Unlock()
	for _, f := range funcs {
		f()
	}
	return true
}
