package job_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/oncall-access/oncall-access/internal/job"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/report"
	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// The reliability cases of CASES.md. C15 B and C18 are rows of the fault
// matrix (faults_test.go), named after them.

// timedExchange is one PagerDuty request as the client saw it, on the fake clock.
type timedExchange struct {
	path            string
	sent, responded time.Time
}

// timedTransport records when each request went out and when its answer
// came back, by the fake clock.
type timedTransport struct {
	clock *clock
	mu    sync.Mutex
	log   []timedExchange
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := timedExchange{path: req.URL.Path, sent: t.clock.Now()}
	resp, err := http.DefaultTransport.RoundTrip(req)
	x.responded = t.clock.Now()
	t.mu.Lock()
	t.log = append(t.log, x)
	t.mu.Unlock()
	return resp, err
}

func TestC06RateLimitReset(t *testing.T) {
	limited := http.Header{
		"ratelimit-limit":     {"960"},
		"ratelimit-remaining": {"0"},
		"ratelimit-reset":     {"2"},
	}
	body := `{"error":{"message":"Rate Limit Exceeded"}}`
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}

	t.Run("A transient", func(t *testing.T) {
		h := newHarness(t, pd, caseOrg())
		tr := &timedTransport{clock: h.clock}
		h.env = func(e *job.Env) { e.PagerDutyTransport = tr }
		h.pd.Fail("/oncalls", 1, http.StatusTooManyRequests, limited, body)
		if code := h.run(); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, h.stdout, h.stderr)
		}
		if n := h.pd.Calls("/oncalls"); n != 2 {
			t.Fatalf("%d /oncalls requests, want 2", n)
		}
		if len(tr.log) != 2 {
			t.Fatalf("the client saw %d exchanges, want 2", len(tr.log))
		}
		if gap := tr.log[1].sent.Sub(tr.log[0].responded); gap < 2*time.Second {
			t.Errorf("the retry started %s after the 429, want at least the 2 s of ratelimit-reset", gap)
		}
		want := []string{"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z"}
		if got := h.grants(); !slices.Equal(got, want) {
			t.Errorf("grants = %q, want %q", got, want)
		}
	})

	t.Run("B persistent", func(t *testing.T) {
		h := newHarness(t, pd, caseOrg())
		h.pd.Fail("/oncalls", -1, http.StatusTooManyRequests, limited, body)
		if code := h.run(); code == 0 {
			t.Fatal("exit 0, want a failure")
		}
		if slept := h.clock.Slept(); slept >= 2*time.Minute {
			t.Errorf("waited %s before giving up, want under 2 min", slept)
		}
		if n := h.pd.Calls("/oncalls"); n < 2 || n > 10 {
			t.Errorf("%d /oncalls requests, want a few retries and no more", n)
		}
		for _, s := range []string{"429", "/oncalls"} {
			if !strings.Contains(h.summary, s) || !strings.Contains(h.stdout+h.stderr, s) {
				t.Errorf("the error does not show %q:\nsummary:\n%s\nlog:\n%s%s", s, h.summary, h.stdout, h.stderr)
			}
		}
		if n := h.sdm.Calls("AccountGrants.Create"); n != 0 {
			t.Errorf("%d creates, want 0", n)
		}
	})
}

// C11: the first create for bob is rate limited with reset_at 1 s ahead.
func TestC11StrongDMRateLimit(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{
		shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
		shift("PBOB001", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"),
	}
	run := func(t *testing.T, limitBob bool) (*harness, time.Duration) {
		h := newHarness(t, pd, caseOrg())
		h.sdm.AllowMultipleGrants(true) // a second create would show as a second grant
		if limitBob {
			// The emulator waits (for no time) before it takes a fault:
			// script the fault there, once the first create for bob is in.
			var once sync.Once
			h.sdm.SetLatency(time.Nanosecond)
			h.sdm.SetSleep(func(ctx context.Context, d time.Duration) error {
				reqs := h.sdm.Requests()
				last := reqs[len(reqs)-1]
				var req sdmpb.AccountGrantCreateRequest
				if last.Method == "/v1.AccountGrants/Create" && proto.Unmarshal(last.Body, &req) == nil &&
					req.GetAccountGrant().GetAccountId() == "a-0002" {
					once.Do(func() {
						h.sdm.Fail("AccountGrants.Create", 1, codes.ResourceExhausted,
							strongdmtest.WithRateLimit(h.clock.Now().Add(time.Second)))
					})
				}
				return nil
			})
			h.inputs["concurrency"] = "1" // so the last request is this call's
		}
		start := h.clock.Now()
		if code := h.run(); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, h.stdout, h.stderr)
		}
		return h, h.clock.Now().Sub(start)
	}
	_, plain := run(t, false)
	h, limited := run(t, true)

	got := h.grants()
	slices.Sort(got)
	want := []string{
		"a-0001 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z",
		"a-0002 rs-0001 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z",
	}
	if !slices.Equal(got, want) {
		t.Errorf("grants = %q, want each once: %q", got, want)
	}
	if n := h.sdm.Calls("AccountGrants.Create"); n != 3 {
		t.Errorf("%d creates, want 3 (bob's twice)", n)
	}
	if limited-plain < time.Second {
		t.Errorf("the rate-limited run took %s, the plain one %s: want at least 1 s more", limited, plain)
	}
	if tableStatus(h.summary, "bob@example.com") != "created" {
		t.Errorf("bob's row is not created:\n%s", h.summary)
	}
}

// C15 A: the image runs as root, so it can write the runner's files.
func TestC15ContainerRunsAsRoot(t *testing.T) {
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]string // instructions of each stage, continuation lines joined
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if line == "" && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line += cont + " "
			continue
		}
		line += text
		fields := strings.Fields(line)
		line = ""
		if len(fields) == 0 {
			continue
		}
		if strings.EqualFold(fields[0], "FROM") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			continue // ARG before the first FROM
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], strings.ToUpper(fields[0]))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	final := stages[len(stages)-1]
	if slices.Contains(final, "USER") {
		t.Errorf("the final stage sets USER: GitHub runs container actions as root and a non-root user cannot write GITHUB_OUTPUT")
	}
	if !slices.Contains(final, "ENTRYPOINT") {
		t.Errorf("the final stage has no ENTRYPOINT: %v", final)
	}
}

// The timeout input is the run's deadline: a timeout that has passed
// before the first call stops the run with nothing written.
func TestTimeoutInput(t *testing.T) {
	pd := casePeople()
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	h := newHarness(t, pd, caseOrg())
	h.inputs["timeout"] = "1ns"
	if code := h.run(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, h.stdout, h.stderr)
	}
	if !strings.Contains(h.summary, "the run's timeout of 1ns expired") {
		t.Errorf("summary does not say the timeout expired:\n%s", h.summary)
	}
	if n := h.sdm.Writes(); n != 0 {
		t.Errorf("%d writes, want 0", n)
	}
}

// Resource names and emails reach strongDM only as JSON-quoted filter
// arguments: quotes and spaces in them cannot change a filter.
func TestFilterArgumentsQuoted(t *testing.T) {
	const name, email = `prod "db"`, `"al ice"@example.com`
	pd := casePeople()
	pd.Users[0].Email = email
	pd.OnCalls = []pagerdutytest.OnCall{shift("PALICE1", 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z")}
	sdm := caseOrg()
	sdm.Resources = append(sdm.Resources, strongdmtest.Resource{ID: "rs-0002", Name: name, Type: "postgres"},
		// What an unquoted name:prod "db" might match instead.
		strongdmtest.Resource{ID: "rs-0003", Name: "prod", Type: "postgres"})
	// More users than one page, with alice's account last, so that her
	// email is looked up by filter rather than found in the first page.
	for i := range 60 {
		sdm.Accounts = append(sdm.Accounts, accountFor(fmt.Sprintf("a-f%03d", i), fmt.Sprintf("filler%03d@example.com", i)))
	}
	sdm.Accounts = append(sdm.Accounts, accountFor("a-0009", email))
	h := newHarness(t, pd, sdm)
	h.inputs["resources"] = name
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, h.stdout, h.stderr)
	}
	want := []string{"a-0009 rs-0002 2026-03-06T17:00:00Z → 2026-03-07T17:00:00Z"}
	if got := h.grants(); !slices.Equal(got, want) {
		t.Errorf("grants = %q, want %q", got, want)
	}

	var filters []string
	for _, r := range h.sdm.Requests() {
		var f interface{ GetFilter() string }
		switch r.Method {
		case "/v1.Resources/List":
			f = new(sdmpb.ResourceListRequest)
		case "/v1.Accounts/List":
			f = new(sdmpb.AccountListRequest)
		default:
			continue
		}
		if err := proto.Unmarshal(r.Body, f.(proto.Message)); err != nil {
			t.Fatalf("%s body: %v", r.Method, err)
		}
		filters = append(filters, f.GetFilter())
	}
	quotedName, _ := json.Marshal(name)
	quotedEmail, _ := json.Marshal(email)
	for _, f := range []string{"name:" + string(quotedName), "type:user email:" + string(quotedEmail)} {
		if !slices.Contains(filters, f) {
			t.Errorf("no request had the filter %s; filters: %q", f, filters)
		}
	}
	for _, f := range filters {
		if (strings.Contains(f, "prod") && !strings.Contains(f, string(quotedName))) ||
			(strings.Contains(f, "al ice") && !strings.Contains(f, string(quotedEmail))) {
			t.Errorf("filter %s holds the name or the email unquoted", f)
		}
	}
}

// Inputs that could send the token elsewhere or put a path into a URL stop
// the run before any request.
func TestInputHardening(t *testing.T) {
	for _, tt := range []struct{ name, input, value string }{
		{"http to a host other than loopback", "pagerduty-api-url", "http://api.pagerduty.com"},
		{"not https", "pagerduty-api-url", "ftp://api.pagerduty.com"},
		{"schedule ID with a path", "pagerduty-schedules", "P1/../users"},
		{"policy ID with a query", "pagerduty-escalation-policies", "PEP0001?x=1"},
		{"lower-case ID", "pagerduty-schedules", "psched1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, casePeople(), caseOrg())
			h.inputs[tt.input] = tt.value
			if code := h.run(); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if !strings.Contains(h.stderr+h.stdout, tt.input) {
				t.Errorf("the error does not name %s:\n%s%s", tt.input, h.stdout, h.stderr)
			}
			if h.pd.Total() != 0 || len(h.sdm.Requests()) != 0 {
				t.Errorf("requests were made: PagerDuty %d, strongDM %d", h.pd.Total(), len(h.sdm.Requests()))
			}
		})
	}
}

// A run with more rows than a job summary can hold cuts rows, keeps the
// totals complete and stays under GitHub's 1 MiB.
func TestSummaryUnderLimit(t *testing.T) {
	pd := casePeople()
	pd.Users, pd.OnCalls = nil, nil
	const n = 1200 // about twice what the people section can show
	long := strings.Repeat("x", 190)
	for i := range n {
		id := fmt.Sprintf("PU%05d", i)
		pd.Users = append(pd.Users, pagerdutytest.User{ID: id, Name: long + id, Email: fmt.Sprintf("%s-%05d@example.com", long, i)})
		pd.OnCalls = append(pd.OnCalls, shift(id, 1, "2026-03-06T17:00:00Z", "2026-03-07T17:00:00Z"))
	}
	h := newHarness(t, pd, caseOrg()) // nobody has a strongDM user
	if code := h.run(); code != 0 {
		t.Fatalf("exit %d\n%s", code, h.stderr)
	}
	if len(h.summary) >= report.MaxBytes {
		t.Errorf("summary is %d bytes, want under %d", len(h.summary), report.MaxBytes)
	}
	if !strings.Contains(h.summary, fmt.Sprintf("**%d** unmatched", n)) {
		t.Errorf("the totals do not count all %d people", n)
	}
	if !strings.Contains(h.summary, "not shown: a job summary is limited to 1 MiB") {
		t.Errorf("no note says rows were cut")
	}
	if h.output("unmatched") != fmt.Sprint(n) {
		t.Errorf("unmatched output = %q, want %d", h.output("unmatched"), n)
	}
}
