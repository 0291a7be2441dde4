package oncall_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
)

var (
	now   = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	day   = now.Add(24 * time.Hour)
	t17   = time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC)
	t17n  = t17.Add(24 * time.Hour)
	query = oncall.Query{Schedules: []string{"PSCHED1"}, Since: now, Until: day}
)

// sleeper records the waits asked for and returns at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeper) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Duration
	for _, d := range s.waits {
		t += d
	}
	return t
}

func newSource(t *testing.T, srv *pagerdutytest.Server, sl *sleeper) *oncall.Source {
	t.Helper()
	src, err := oncall.New(oncall.Config{
		BaseURL: srv.URL(), Token: srv.Token(), MaxAttempts: 4,
		Sleep: sl.sleep, Rand: func() float64 { return 0.5 },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

func start(t *testing.T, org pagerdutytest.Org) *pagerdutytest.Server {
	t.Helper()
	srv := pagerdutytest.NewServer(org)
	srv.SetClock(func() time.Time { return now })
	t.Cleanup(srv.Close)
	return srv
}

var (
	alice = pagerdutytest.User{ID: "PALICE1", Name: "Alice", Email: "alice@example.com"}
	bob   = pagerdutytest.User{ID: "PBOB001", Name: "Bob", Email: "bob@example.com"}
	carol = pagerdutytest.User{ID: "PCAROL1", Name: "Carol", Email: "carol@example.com"}
	ghost = pagerdutytest.User{ID: "PGHOST1", Name: "Ghost", Deleted: true, DeletedAt: "2026-02-01T00:00:00Z"}
	pol1  = pagerdutytest.Policy{ID: "PEP0001", Name: "Primary"}
	pol2  = pagerdutytest.Policy{ID: "PEP0002", Name: "Secondary"}
	sch1  = pagerdutytest.Schedule{ID: "PSCHED1", Name: "Primary", Users: []string{"PALICE1", "PBOB001"},
		EscalationPolicies: []string{"PEP0001"}}
)

func org(oncalls ...pagerdutytest.OnCall) pagerdutytest.Org {
	return pagerdutytest.Org{
		Users:              []pagerdutytest.User{alice, bob, carol, ghost},
		EscalationPolicies: []pagerdutytest.Policy{pol1, pol2},
		Schedules:          []pagerdutytest.Schedule{sch1},
		OnCalls:            oncalls,
	}
}

func shift(user, policy string, level int) pagerdutytest.OnCall {
	return pagerdutytest.OnCall{UserID: user, ScheduleID: "PSCHED1", EscalationPolicyID: policy,
		EscalationLevel: level, Start: "2026-03-06T17:00:00Z", End: "2026-03-07T17:00:00Z"}
}

func aliceEntry() oncall.Entry {
	return oncall.Entry{UserID: "PALICE1", Name: "Alice", Email: "alice@example.com", ScheduleID: "PSCHED1",
		PolicyID: "PEP0001", Level: 1, Start: t17, End: t17n}
}

// c01Body is C01's body as given: offset times and a bare user reference.
const c01Body = `{"oncalls":[{"user":{"id":"PALICE1","type":"user_reference","self":"http://127.0.0.1/users/PALICE1"},
  "schedule":{"id":"PSCHED1","type":"schedule_reference"},
  "escalation_policy":{"id":"PEP0001","type":"escalation_policy_reference"},
  "escalation_level":1,"start":"2026-03-06T18:00:00+01:00","end":"2026-03-07T18:00:00+01:00"}],
 "limit":25,"offset":0,"more":false,"total":null}`

// TestOnCall runs the source against the emulator over real HTTP.
func TestOnCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		org      pagerdutytest.Org
		body     string // served as-is for /oncalls when set
		query    oncall.Query
		want     []oncall.Entry
		warnings []string // subjects
		calls    map[string]int
	}{
		{
			name: "C01 offset times from the org, rendered verbatim",
			org: org(pagerdutytest.OnCall{UserID: "PALICE1", ScheduleID: "PSCHED1", EscalationPolicyID: "PEP0001",
				EscalationLevel: 1, Start: "2026-03-06T18:00:00+01:00", End: "2026-03-07T18:00:00+01:00"}),
			query: query,
			want:  []oncall.Entry{aliceEntry()},
			calls: map[string]int{"/oncalls": 1, "/users/": 0, "/schedules/": 0},
		},
		{
			name:  "C01 exact body with a bare reference: one user lookup",
			org:   org(),
			body:  c01Body,
			query: query,
			want:  []oncall.Entry{aliceEntry()},
			calls: map[string]int{"/oncalls": 1, "/users/": 1, "/schedules/": 0},
		},
		{
			name: "C01 account zone with negative offset",
			org: func() pagerdutytest.Org {
				o := org(shift("PALICE1", "PEP0001", 1))
				o.TimeZone = "America/New_York" // the source asks for UTC anyway
				return o
			}(),
			query: query,
			want:  []oncall.Entry{aliceEntry()},
		},
		{
			name: "C02 null start and end are the whole window",
			org: org(shift("PALICE1", "PEP0001", 1),
				pagerdutytest.OnCall{UserID: "PCAROL1", EscalationPolicyID: "PEP0001", EscalationLevel: 1}),
			query: oncall.Query{Policies: []string{"PEP0001"}, Since: now, Until: day},
			want: []oncall.Entry{aliceEntry(), {UserID: "PCAROL1", Name: "Carol", Email: "carol@example.com",
				PolicyID: "PEP0001", Level: 1, Start: now, End: day, Permanent: true}},
		},
		{
			name:  "C03 same user thrice: three entries, one request",
			org:   org(shift("PALICE1", "PEP0001", 1), shift("PALICE1", "PEP0001", 2), shift("PALICE1", "PEP0002", 1)),
			query: query,
			want: []oncall.Entry{aliceEntry(),
				{UserID: "PALICE1", Name: "Alice", Email: "alice@example.com", ScheduleID: "PSCHED1", PolicyID: "PEP0001", Level: 2, Start: t17, End: t17n},
				{UserID: "PALICE1", Name: "Alice", Email: "alice@example.com", ScheduleID: "PSCHED1", PolicyID: "PEP0002", Level: 1, Start: t17, End: t17n}},
			calls: map[string]int{"/oncalls": 1, "/users/": 0},
		},
		{
			name:  "levels filter keeps level 1",
			org:   org(shift("PALICE1", "PEP0001", 1), shift("PBOB001", "PEP0001", 2)),
			query: oncall.Query{Schedules: []string{"PSCHED1"}, Levels: []int{1}, Since: now, Until: day},
			want:  []oncall.Entry{aliceEntry()},
			calls: map[string]int{"/oncalls": 1, "/schedules/": 0},
		},
		{
			name:     "C07 deleted user is a warning, no user request",
			org:      org(shift("PALICE1", "PEP0001", 1), shift("PGHOST1", "PEP0001", 1)),
			query:    query,
			want:     []oncall.Entry{aliceEntry()},
			warnings: []string{"PGHOST1"},
			calls:    map[string]int{"/oncalls": 1, "/users/": 0},
		},
		{
			name: "deleted user without deleted_at: one lookup, 404, warning",
			org: func() pagerdutytest.Org {
				o := org(shift("PGHOST1", "PEP0001", 1), shift("PALICE1", "PEP0001", 1))
				o.Users[3].DeletedAt = ""
				return o
			}(),
			query:    query,
			want:     []oncall.Entry{aliceEntry()},
			warnings: []string{"PGHOST1"},
			calls:    map[string]int{"/users/": 1},
		},
		{
			name:     "schedule with escalation policies but nobody on call",
			org:      org(),
			query:    query,
			warnings: []string{"PSCHED1"},
			calls:    map[string]int{"/oncalls": 1, "/schedules/PSCHED1": 1},
		},
		{
			name: "schedule used by no policy: final schedule",
			org: func() pagerdutytest.Org {
				o := org()
				o.Schedules = append(o.Schedules, pagerdutytest.Schedule{ID: "PLONE01", Name: "Lonely",
					TimeZone: "Europe/Paris", Users: []string{"PBOB001"},
					FinalSchedule: []pagerdutytest.Span{
						{UserID: "PBOB001", Start: "2026-03-06T00:00:00Z", End: "2026-03-06T20:00:00Z"},
						{UserID: "PALICE1", Start: "2026-03-06T20:00:00Z", End: "2026-03-06T22:00:00Z"},
						{UserID: "PBOB001", Start: "2026-03-06T22:00:00Z"},
					}})
				return o
			}(),
			query: oncall.Query{Schedules: []string{"PLONE01"}, Since: now, Until: day},
			want: []oncall.Entry{
				{UserID: "PBOB001", Name: "Bob", Email: "bob@example.com", ScheduleID: "PLONE01", Start: now, End: now.Add(8 * time.Hour), FinalSchedule: true},
				{UserID: "PALICE1", Name: "Alice", Email: "alice@example.com", ScheduleID: "PLONE01", Start: now.Add(8 * time.Hour), End: now.Add(10 * time.Hour), FinalSchedule: true},
				{UserID: "PBOB001", Name: "Bob", Email: "bob@example.com", ScheduleID: "PLONE01", Start: now.Add(10 * time.Hour), End: day, FinalSchedule: true},
			},
			warnings: []string{"PLONE01"},
			// One lookup per distinct user, not per entry.
			calls: map[string]int{"/oncalls": 1, "/schedules/PLONE01": 1, "/users/PBOB001": 1, "/users/PALICE1": 1},
		},
		{
			name:  "self links are never followed",
			org:   org(),
			body:  strings.ReplaceAll(c01Body, `"type":"user_reference",`, `"type":"user","email":"alice@example.com","name":"Alice",`),
			query: query,
			want:  []oncall.Entry{aliceEntry()},
			calls: map[string]int{"/oncalls": 1, "/users/": 0, "/schedules/": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, tt.org)
			if tt.body != "" {
				srv.SetOnCallsBody(tt.body)
			}
			got, err := newSource(t, srv, &sleeper{}).OnCall(t.Context(), tt.query)
			if err != nil {
				t.Fatalf("OnCall(%+v) error: %v", tt.query, err)
			}
			if !slices.Equal(got.Entries, tt.want) {
				t.Errorf("OnCall entries =\n%+v\nwant\n%+v", got.Entries, tt.want)
			}
			var subjects []string
			for _, w := range got.Warnings {
				subjects = append(subjects, w.Subject)
				if !strings.Contains(w.Message, w.Subject) {
					t.Errorf("warning %q does not name %q", w.Message, w.Subject)
				}
			}
			if !slices.Equal(subjects, tt.warnings) {
				t.Errorf("OnCall warnings = %q, want subjects %q", got.Warnings, tt.warnings)
			}
			for path, want := range tt.calls {
				if n := srv.Calls(path); n != want {
					t.Errorf("requests to %s = %d, want %d", path, n, want)
				}
			}
			for _, r := range srv.Requests() {
				if r.Path == "/oncalls" {
					checkOnCallsQuery(t, r, tt.query)
				}
			}
			if got.Members != nil {
				t.Errorf("Members = %q without Query.Members", got.Members)
			}
			if got.MemberEmails != nil {
				t.Errorf("MemberEmails = %q without Query.Members", got.MemberEmails)
			}
		})
	}
}

// checkOnCallsQuery checks the parameters every /oncalls request carries.
func checkOnCallsQuery(t *testing.T, r pagerdutytest.Request, q oncall.Query) {
	t.Helper()
	want := map[string]string{
		"since": q.Since.Format(time.RFC3339), "until": q.Until.Format(time.RFC3339),
		"time_zone": "UTC", "include[]": "users", "limit": "100",
	}
	for k, v := range want {
		if got := r.Query[k]; len(got) != 1 || got[0] != v {
			t.Errorf("GET /oncalls?%s: %s = %q, want %q", r.Query.Encode(), k, got, v)
		}
	}
}

// TestOnCallPagination is C05: 130 rows, two pages of 100, one fixed
// since/until for both.
func TestOnCallPagination(t *testing.T) {
	t.Parallel()
	o := org()
	var want []string
	for i := 1; i <= 130; i++ {
		u := pagerdutytest.User{ID: fmt.Sprintf("PU%03d", i), Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("user%03d@example.com", i)}
		o.Users = append(o.Users, u)
		o.OnCalls = append(o.OnCalls, shift(u.ID, "PEP0001", 1))
		want = append(want, u.Email)
	}
	srv := start(t, o)
	got, err := newSource(t, srv, &sleeper{}).OnCall(t.Context(), query)
	if err != nil {
		t.Fatalf("OnCall: %v", err)
	}
	var emails []string
	for _, e := range got.Entries {
		emails = append(emails, e.Email)
	}
	if !slices.Equal(emails, want) {
		t.Errorf("OnCall gave %d entries (last %q), want 130 ending in user130", len(emails), emails[len(emails)-1:])
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2 /oncalls pages", len(reqs))
	}
	for i, r := range reqs {
		checkOnCallsQuery(t, r, query)
		if got, want := r.Query.Get("offset"), []string{"", "100"}[i]; got != want {
			t.Errorf("page %d offset = %q, want %q", i+1, got, want)
		}
	}
}

// TestOnCallRateLimit is C06: PagerDuty's hint is ratelimit-reset, not
// Retry-After.
func TestOnCallRateLimit(t *testing.T) {
	t.Parallel()
	hdr := http.Header{"ratelimit-limit": {"960"}, "ratelimit-remaining": {"0"}, "ratelimit-reset": {"2"}}
	const body = `{"error":{"message":"Rate Limit Exceeded"}}`

	t.Run("A transient", func(t *testing.T) {
		t.Parallel()
		srv := start(t, org(shift("PALICE1", "PEP0001", 1)))
		srv.Fail("/oncalls", 1, http.StatusTooManyRequests, hdr, body)
		sl := &sleeper{}
		src := newSource(t, srv, sl)
		got, err := src.OnCall(t.Context(), query)
		if err != nil {
			t.Fatalf("OnCall: %v", err)
		}
		if n := src.Requests(); n != srv.Total() || n != 2 {
			t.Errorf("Requests() = %d, emulator saw %d, want 2", n, srv.Total())
		}
		if !slices.Equal(got.Entries, []oncall.Entry{aliceEntry()}) {
			t.Errorf("entries = %+v, want alice", got.Entries)
		}
		if n := srv.Calls("/oncalls"); n != 2 {
			t.Errorf("/oncalls requests = %d, want 2", n)
		}
		if len(sl.waits) != 1 || sl.waits[0] < 2*time.Second {
			t.Errorf("waits = %v, want one of at least 2s", sl.waits)
		}
	})

	t.Run("B forever", func(t *testing.T) {
		t.Parallel()
		srv := start(t, org(shift("PALICE1", "PEP0001", 1)))
		srv.Fail("/oncalls", -1, http.StatusTooManyRequests, hdr, body)
		sl := &sleeper{}
		_, err := newSource(t, srv, sl).OnCall(t.Context(), query)
		if err == nil {
			t.Fatal("OnCall: no error with 429 forever")
		}
		if n := srv.Calls("/oncalls"); n != 4 {
			t.Errorf("/oncalls requests = %d, want MaxAttempts 4", n)
		}
		if len(sl.waits) != 3 || sl.total() > 2*time.Minute {
			t.Errorf("waits = %v, want 3 under 2m in all", sl.waits)
		}
		if s := err.Error(); !strings.Contains(s, "429") || !strings.Contains(s, "/oncalls") {
			t.Errorf("error %q lacks 429 or /oncalls", s)
		}
		if _, ok := errors.AsType[pagerduty.APIError](err); !ok {
			t.Errorf("error %v does not wrap a pagerduty.APIError", err)
		}
	})
}

// TestOnCallErrors covers answers that must stop the run, and how.
func TestOnCallErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fail     string // path
		status   int
		header   http.Header
		body     string
		query    oncall.Query
		token    string // overrides the right token
		input    string // ConfigError input, if any
		contains []string
		calls    int // /oncalls requests
	}{
		{name: "C18 A errors as a string", fail: "/oncalls", status: 400,
			body:     `{"error":{"message":"Invalid Input Provided","code":2001,"errors":"Schedule PBAD999 not found"}}`,
			contains: []string{"400", "Invalid Input Provided", "Schedule PBAD999 not found", "PSCHED1"}, calls: 1},
		{name: "C18 B error as an array", fail: "/oncalls", status: 400,
			body:     `{"error":["until must be within 90 days"]}`,
			contains: []string{"400", "until must be within 90 days"}, calls: 1},
		{name: "undecodable error body falls back to the raw body", fail: "/oncalls", status: 400,
			body:     `{"error":{"message":"x","errors":5}}`,
			contains: []string{"400", `"errors":5`}, calls: 1},
		{name: "401 names the token input", token: "wrong-token", input: "pagerduty-token",
			contains: []string{"401", "Authentication failed"}, calls: 1},
		{name: "403 names the token input", fail: "/oncalls", status: 403, input: "pagerduty-token",
			contains: []string{"403", "Access Denied"}, calls: 1},
		{name: "401 without JSON body", fail: "/oncalls", status: 401, header: http.Header{"Content-Type": {"text/plain"}},
			body: "Unauthorized", input: "pagerduty-token", contains: []string{"401", "Unauthorized"}, calls: 1},
		{name: "500 is retried to the budget", fail: "/oncalls", status: 500,
			contains: []string{"500", "4 attempts", "/oncalls"}, calls: 4},
		{name: "404 schedule names it", query: oncall.Query{Schedules: []string{"PNOPE01"}, Since: now, Until: day},
			input: "pagerduty-schedules", contains: []string{"PNOPE01", "404"}, calls: 1},
		{name: "malformed schedule ID, no request", query: oncall.Query{Schedules: []string{"../users"}, Since: now, Until: day},
			input: "pagerduty-schedules", contains: []string{"../users"}, calls: 0},
		{name: "malformed policy ID, no request", query: oncall.Query{Policies: []string{"pep 1"}, Since: now, Until: day},
			input: "pagerduty-escalation-policies", contains: []string{"pep 1"}, calls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, org(shift("PALICE1", "PEP0001", 1)))
			if tt.fail != "" {
				srv.Fail(tt.fail, -1, tt.status, tt.header, tt.body)
			}
			q := tt.query
			if q.Since.IsZero() {
				q = query
			}
			token := srv.Token()
			if tt.token != "" {
				token = tt.token
			}
			src, err := oncall.New(oncall.Config{BaseURL: srv.URL(), Token: token, MaxAttempts: 4, Sleep: (&sleeper{}).sleep})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_, err = src.OnCall(t.Context(), q)
			if err == nil {
				t.Fatalf("OnCall(%v): no error", q)
			}
			ce, isConfig := errors.AsType[*oncall.ConfigError](err)
			switch {
			case tt.input != "" && (!isConfig || ce.Input != tt.input):
				t.Errorf("OnCall error %v is not a ConfigError for %q", err, tt.input)
			case tt.input == "" && isConfig:
				t.Errorf("OnCall error %v is a ConfigError for %q, want none", err, ce.Input)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if strings.Contains(err.Error(), srv.Token()) || strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the token", err)
			}
			if n := srv.Calls("/oncalls"); n != tt.calls {
				t.Errorf("/oncalls requests = %d, want %d", n, tt.calls)
			}
		})
	}
}

// TestOnCallSelfNotFollowed serves self links to another server, which
// must see no request.
func TestOnCallSelfNotFollowed(t *testing.T) {
	t.Parallel()
	var elsewhere int
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere++
		mu.Unlock()
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer other.Close()
	srv := start(t, org())
	// A bare reference whose self points elsewhere: the lookup must go to
	// the configured base URL.
	srv.SetOnCallsBody(strings.ReplaceAll(c01Body, "http://127.0.0.1", other.URL))
	got, err := newSource(t, srv, &sleeper{}).OnCall(t.Context(), query)
	if err != nil {
		t.Fatalf("OnCall: %v", err)
	}
	if len(got.Entries) != 1 {
		t.Errorf("entries = %+v, want alice", got.Entries)
	}
	mu.Lock()
	defer mu.Unlock()
	if elsewhere != 0 {
		t.Errorf("self link server got %d requests, want 0", elsewhere)
	}
}

// TestOnCallMembers checks that members cost schedule lookups only when
// asked for.
func TestOnCallMembers(t *testing.T) {
	t.Parallel()
	srv := start(t, org(shift("PALICE1", "PEP0001", 1), pagerdutytest.OnCall{UserID: "PCAROL1", EscalationPolicyID: "PEP0001", EscalationLevel: 1}))
	q := oncall.Query{Schedules: []string{"PSCHED1"}, Policies: []string{"PEP0001"}, Since: now, Until: day, Members: true}
	got, err := newSource(t, srv, &sleeper{}).OnCall(t.Context(), q)
	if err != nil {
		t.Fatalf("OnCall: %v", err)
	}
	if want := []string{"PALICE1", "PBOB001", "PCAROL1"}; !slices.Equal(got.Members, want) {
		t.Errorf("Members = %q, want %q", got.Members, want)
	}
	if want := []string{"alice@example.com", "bob@example.com", "carol@example.com"}; !slices.Equal(got.MemberEmails, want) {
		t.Errorf("MemberEmails = %q, want %q", got.MemberEmails, want)
	}
	if n := srv.Calls("/schedules/PSCHED1"); n != 1 {
		t.Errorf("/schedules/PSCHED1 requests = %d, want 1", n)
	}
	// Only bob, a member not on call, costs a user lookup.
	if n, nb := srv.Calls("/users/"), srv.Calls("/users/PBOB001"); n != 1 || nb != 1 {
		t.Errorf("user lookups = %d (bob %d), want 1 for bob", n, nb)
	}
	// Schedules and policies are asked apart: PagerDuty ANDs the filters.
	if n := srv.Calls("/oncalls"); n != 2 {
		t.Errorf("/oncalls requests = %d, want 2", n)
	}
}

// TestOnCallCancel checks that a wait ends with the context.
func TestOnCallCancel(t *testing.T) {
	t.Parallel()
	srv := start(t, org())
	srv.Fail("/oncalls", -1, http.StatusServiceUnavailable, nil, "")
	ctx, cancel := context.WithCancel(t.Context())
	src, err := oncall.New(oncall.Config{BaseURL: srv.URL(), Token: srv.Token(),
		Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = src.OnCall(ctx, query)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("OnCall after cancel = %v, want context.Canceled", err)
	}
	if n := srv.Calls("/oncalls"); n != 1 {
		t.Errorf("/oncalls requests = %d, want 1", n)
	}
}

// TestNew checks the configuration New refuses, and that it names the
// input without echoing a token.
func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   oncall.Config
		input string // "" = accepted
	}{
		{"default URL", oncall.Config{Token: "tok"}, ""},
		{"EU URL", oncall.Config{BaseURL: "https://api.eu.pagerduty.com/", Token: "tok"}, ""},
		{"loopback http", oncall.Config{BaseURL: "http://127.0.0.1:8080", Token: "tok"}, ""},
		{"localhost http", oncall.Config{BaseURL: "http://localhost:8080", Token: "tok"}, ""},
		{"empty token", oncall.Config{}, "pagerduty-token"},
		{"token with newline", oncall.Config{Token: "secret\nX-Evil: 1"}, "pagerduty-token"},
		{"remote http", oncall.Config{BaseURL: "http://api.pagerduty.com", Token: "tok"}, "pagerduty-api-url"},
		{"no scheme", oncall.Config{BaseURL: "api.pagerduty.com", Token: "tok"}, "pagerduty-api-url"},
		{"userinfo", oncall.Config{BaseURL: "https://u:p@api.pagerduty.com", Token: "tok"}, "pagerduty-api-url"},
		{"ftp", oncall.Config{BaseURL: "ftp://api.pagerduty.com", Token: "tok"}, "pagerduty-api-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oncall.New(tt.cfg)
			if tt.input == "" {
				if err != nil {
					t.Errorf("New(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			ce, ok := errors.AsType[*oncall.ConfigError](err)
			if !ok || ce.Input != tt.input {
				t.Fatalf("New(%s) = %v, want a ConfigError for %q", tt.name, err, tt.input)
			}
			if tt.cfg.Token != "" && strings.Contains(err.Error(), tt.cfg.Token) {
				t.Errorf("New(%s) error %q contains the token", tt.name, err)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"PABC123", true},
		{"Q0RIJJZL24RC6W", true},
		{"PU001", true},
		{"", false},
		{"pabc123", false},
		{"PABC 12", false},
		{"../PABC", false},
		{"PABC123?x=1", false},
		{"P%2F", false},
		{"PÄBC", false},
		{strings.Repeat("P", 33), false},
	}
	for _, tt := range tests {
		if got := oncall.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// TestLogging checks the per-request debug lines and that the token never
// appears in them.
func TestLogging(t *testing.T) {
	t.Parallel()
	srv := start(t, org(shift("PALICE1", "PEP0001", 1)))
	srv.Fail("/oncalls", 1, http.StatusTooManyRequests, http.Header{"ratelimit-reset": {"1"}}, "")
	var buf syncBuffer
	src, err := oncall.New(oncall.Config{BaseURL: srv.URL(), Token: srv.Token(), Sleep: (&sleeper{}).sleep,
		Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := src.OnCall(t.Context(), query); err != nil {
		t.Fatalf("OnCall: %v", err)
	}
	out := buf.String()
	if n := strings.Count(out, "msg=\"pagerduty request\""); n != 2 {
		t.Errorf("log has %d request lines, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "pagerduty retry") {
		t.Errorf("log has no retry line:\n%s", out)
	}
	if strings.Contains(out, srv.Token()) {
		t.Errorf("log contains the token:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
