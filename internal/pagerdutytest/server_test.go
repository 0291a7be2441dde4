package pagerdutytest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
)

type page struct {
	OnCalls []struct {
		User struct {
			ID, Type, Email string
			DeletedAt       string `json:"deleted_at"`
		}
		Schedule *struct{ ID string }
		Start    *string
		End      *string
	}
	Limit, Offset int
	More          bool
	Total         *int
}

func getPage(t *testing.T, srv *pagerdutytest.Server, q url.Values) page {
	t.Helper()
	x := get(t, srv, srv.Token(), "/oncalls", q)
	if x.status != http.StatusOK {
		t.Fatalf("GET /oncalls?%s = %d: %s", q.Encode(), x.status, x.body)
	}
	var p page
	if err := json.Unmarshal(x.body, &p); err != nil {
		t.Fatalf("GET /oncalls?%s: %v", q.Encode(), err)
	}
	return p
}

func manyOnCalls(n int) pagerdutytest.Org {
	org := pagerdutytest.Org{EscalationPolicies: []pagerdutytest.Policy{{ID: "PEP0001"}}}
	for i := range n {
		id := fmt.Sprintf("PU%03d", i+1)
		org.Users = append(org.Users, pagerdutytest.User{ID: id, Name: id, Email: strings.ToLower(id) + "@example.com"})
		org.OnCalls = append(org.OnCalls, pagerdutytest.OnCall{UserID: id, EscalationPolicyID: "PEP0001", EscalationLevel: 1})
	}
	return org
}

// TestKnownDifferences checks what the real API does and the OpenAPI
// document leaves out: page size 25 by default and 100 at most, and the
// rate-limit headers.
func TestKnownDifferences(t *testing.T) {
	t.Parallel()
	srv := pagerdutytest.NewServer(manyOnCalls(130))
	defer srv.Close()
	tests := []struct {
		q              url.Values
		limit, n, next int
		more           bool
	}{
		{url.Values{}, 25, 25, 0, true},
		{url.Values{"limit": {"500"}}, 100, 100, 0, true},
		{url.Values{"limit": {"100"}, "offset": {"100"}}, 100, 30, 100, false},
	}
	for _, tt := range tests {
		p := getPage(t, srv, tt.q)
		if p.Limit != tt.limit || len(p.OnCalls) != tt.n || p.More != tt.more || p.Offset != tt.next || p.Total != nil {
			t.Errorf("GET /oncalls?%s: limit %d, %d rows, more %v, offset %d, total %v; want %d, %d, %v, %d, null",
				tt.q.Encode(), p.Limit, len(p.OnCalls), p.More, p.Offset, p.Total, tt.limit, tt.n, tt.more, tt.next)
		}
	}
	x := get(t, srv, srv.Token(), "/oncalls", url.Values{})
	for _, h := range []string{"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} {
		if x.header.Get(h) == "" {
			t.Errorf("GET /oncalls: no %s header", h)
		}
	}
	if p := getPage(t, srv, url.Values{"total": {"true"}}); p.Total == nil || *p.Total != 130 {
		t.Errorf("GET /oncalls?total=true: total = %v, want 130", p.Total)
	}
}

// TestOnCalls checks filters, windows, zones and includes.
func TestOnCalls(t *testing.T) {
	t.Parallel()
	srv := startOrg(t)
	window := url.Values{"since": {"2026-03-06T12:00:00Z"}, "until": {"2026-03-07T12:00:00Z"}}
	with := func(kv ...string) url.Values {
		q := url.Values{"since": window["since"], "until": window["until"]}
		for i := 0; i < len(kv); i += 2 {
			q.Add(kv[i], kv[i+1])
		}
		return q
	}
	users := func(p page) []string {
		var ids []string
		for _, r := range p.OnCalls {
			ids = append(ids, r.User.ID)
		}
		return ids
	}
	tests := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"window", with(), []string{"PALICE1", "PBOB001", "PCAROL1", "PGHOST1"}},
		{"no window is now", url.Values{}, []string{"PCAROL1"}},
		{"a month later", url.Values{"since": {"2026-04-07T00:00:00Z"}, "until": {"2026-04-08T00:00:00Z"}}, []string{"PCAROL1", "PALICE1"}},
		{"schedule filter drops null schedules", with("schedule_ids[]", "PSCHED1"), []string{"PALICE1", "PBOB001", "PGHOST1"}},
		{"filters are ANDed", with("schedule_ids[]", "PSCHED1", "escalation_policy_ids[]", "PEP0002"), []string{"PGHOST1"}},
		{"IDs are ORed", with("escalation_policy_ids[]", "PEP0001", "escalation_policy_ids[]", "PEP0002"), []string{"PALICE1", "PBOB001", "PCAROL1", "PGHOST1"}},
		{"user filter", with("user_ids[]", "PBOB001"), []string{"PBOB001"}},
		{"earliest", url.Values{"since": {"2026-03-06T12:00:00Z"}, "until": {"2026-04-30T00:00:00Z"}, "user_ids[]": {"PALICE1"}, "earliest": {"true"}}, []string{"PALICE1"}},
		{"end is exclusive", url.Values{"since": {"2026-03-07T17:00:00Z"}, "until": {"2026-03-07T18:00:00Z"}, "schedule_ids[]": {"PSCHED1"}}, nil},
	}
	for _, tt := range tests {
		if got := users(getPage(t, srv, tt.q)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: GET /oncalls?%s users = %q, want %q", tt.name, tt.q.Encode(), got, tt.want)
		}
	}

	// Z times follow time_zone; times with an offset are served as written
	// (C01); null stays null (C02); deleted users stay references (C07).
	p := getPage(t, srv, with("time_zone", "America/New_York", "include[]", "users"))
	str := func(s *string) string {
		if s == nil {
			return "null"
		}
		return *s
	}
	var got []string
	for _, r := range p.OnCalls {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.User.ID, r.User.Type, r.User.Email, str(r.Start), str(r.End)))
	}
	want := []string{
		"PALICE1 user alice@example.com 2026-03-06T12:00:00-05:00 2026-03-07T12:00:00-05:00",
		"PBOB001 user bob@example.com 2026-03-06T18:00:00+01:00 2026-03-07T18:00:00+01:00",
		"PCAROL1 user carol@example.com null null",
		"PGHOST1 user_reference  2026-03-06T12:00:00-05:00 2026-03-07T12:00:00-05:00",
	}
	if !slices.Equal(got, want) {
		t.Errorf("GET /oncalls in New York with users =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.OnCalls[2].Schedule != nil || p.OnCalls[3].User.DeletedAt == "" {
		t.Errorf("carol's schedule = %v (want null), ghost's deleted_at = %q (want set)", p.OnCalls[2].Schedule, p.OnCalls[3].User.DeletedAt)
	}
	if p := getPage(t, srv, with()); p.OnCalls[0].User.Type != "user_reference" || p.OnCalls[0].User.Email != "" {
		t.Errorf("GET /oncalls without include[]: user %+v, want a reference", p.OnCalls[0].User)
	}
}

// TestSchedule checks rendering and cutting of the final schedule.
func TestSchedule(t *testing.T) {
	t.Parallel()
	srv := startOrg(t)
	type body struct {
		Schedule struct {
			TimeZone           string `json:"time_zone"`
			EscalationPolicies []struct{ ID string }
			Users              []struct{ ID string }
			FinalSchedule      struct {
				Entries []struct {
					Start, End *string
					User       struct{ ID string }
				} `json:"rendered_schedule_entries"`
			} `json:"final_schedule"`
		}
	}
	entries := func(path string, q url.Values) []string {
		x := get(t, srv, srv.Token(), path, q)
		var b body
		if err := json.Unmarshal(x.body, &b); err != nil || x.status != 200 {
			t.Fatalf("GET %s = %d %s", path, x.status, x.body)
		}
		var out []string
		for _, e := range b.Schedule.FinalSchedule.Entries {
			end := "null"
			if e.End != nil {
				end = *e.End
			}
			out = append(out, e.User.ID+" "+*e.Start+" "+end)
		}
		return out
	}
	tests := []struct {
		name string
		path string
		q    url.Values
		want []string
	}{
		{"no window, no entries", "/schedules/PSCHED1", url.Values{}, nil},
		{"cut at the window, in the schedule's zone", "/schedules/PSCHED1",
			url.Values{"since": {"2026-03-07T00:00:00Z"}, "until": {"2026-03-08T00:00:00Z"}},
			[]string{"PALICE1 2026-03-07T01:00:00+01:00 2026-03-07T18:00:00+01:00", "PBOB001 2026-03-07T18:00:00+01:00 2026-03-08T01:00:00+01:00"}},
		{"overflow, in UTC", "/schedules/PSCHED1",
			url.Values{"since": {"2026-03-07T00:00:00Z"}, "until": {"2026-03-07T01:00:00Z"}, "overflow": {"true"}, "time_zone": {"UTC"}},
			[]string{"PALICE1 2026-03-06T17:00:00Z 2026-03-07T17:00:00Z"}},
		{"open end stays null", "/schedules/PLONE01",
			url.Values{"since": {"2026-03-07T00:00:00Z"}, "until": {"2026-03-08T00:00:00Z"}},
			[]string{"PBOB001 2026-03-07T00:00:00Z null"}},
	}
	for _, tt := range tests {
		if got := entries(tt.path, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("%s: GET %s?%s entries = %q, want %q", tt.name, tt.path, tt.q.Encode(), got, tt.want)
		}
	}
	x := get(t, srv, srv.Token(), "/schedules/PLONE01", url.Values{})
	var b body
	json.Unmarshal(x.body, &b)
	if len(b.Schedule.EscalationPolicies) != 0 || len(b.Schedule.Users) != 1 || b.Schedule.TimeZone != "UTC" {
		t.Errorf("GET /schedules/PLONE01 = %s, want no policy, one user, UTC", x.body)
	}
	x = get(t, srv, srv.Token(), "/schedules/PSCHED1/users", url.Values{"since": {"2026-03-07T20:00:00Z"}, "until": {"2026-03-07T21:00:00Z"}})
	if !strings.Contains(string(x.body), "bob@example.com") || strings.Contains(string(x.body), "alice") {
		t.Errorf("GET /schedules/PSCHED1/users at 20:00 = %s, want bob only", x.body)
	}
}

// TestScripting checks faults, counters, latency, body overrides and
// SetOrg.
func TestScripting(t *testing.T) {
	t.Parallel()
	srv := startOrg(t)
	var mu sync.Mutex
	var slept []time.Duration
	srv.SetSleep(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	})
	srv.SetLatency(3 * time.Second)
	srv.Fail("/schedules/", 2, http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}, "")
	srv.Fail("/oncalls", 1, http.StatusTooManyRequests, nil, `{"error":{"message":"Rate Limit Exceeded"}}`)

	statuses := func(path string, n int) []int {
		var out []int
		for range n {
			out = append(out, get(t, srv, srv.Token(), path, url.Values{}).status)
		}
		return out
	}
	if got := statuses("/schedules/PSCHED1", 3); !slices.Equal(got, []int{503, 503, 200}) {
		t.Errorf("GET /schedules/PSCHED1 x3 = %v, want 503 503 200", got)
	}
	if got := statuses("/oncalls", 2); !slices.Equal(got, []int{429, 200}) {
		t.Errorf("GET /oncalls x2 = %v, want 429 200", got)
	}
	if got := get(t, srv, "nope", "/oncalls", url.Values{}); got.status != 401 || !strings.Contains(string(got.body), "2006") {
		t.Errorf("GET /oncalls with a wrong token = %d %s, want 401 code 2006", got.status, got.body)
	}
	if srv.Calls("/schedules/") != 3 || srv.Calls("/oncalls") != 3 || srv.Total() != 6 {
		t.Errorf("calls: schedules %d, oncalls %d, total %d; want 3, 3, 6", srv.Calls("/schedules/"), srv.Calls("/oncalls"), srv.Total())
	}
	mu.Lock()
	if len(slept) != 6 || slept[0] != 3*time.Second {
		t.Errorf("latency sleeps = %v, want six of 3s", slept)
	}
	mu.Unlock()
	reqs := srv.Requests()
	if reqs[0].Path != "/schedules/PSCHED1" || reqs[0].Header.Get("Accept") == "" {
		t.Errorf("first request = %+v, want /schedules/PSCHED1 with its headers", reqs[0])
	}
	srv.ResetCounts()
	if srv.Total() != 0 {
		t.Errorf("Total after ResetCounts = %d, want 0", srv.Total())
	}

	srv.SetOnCallsBody(`{"oncalls":[],"more":false}`)
	if x := get(t, srv, srv.Token(), "/oncalls", url.Values{}); string(x.body) != `{"oncalls":[],"more":false}` {
		t.Errorf("GET /oncalls with a body set = %s", x.body)
	}
	srv.SetOnCallsBody("")
	srv.SetOrg(manyOnCalls(3))
	if p := getPage(t, srv, url.Values{}); len(p.OnCalls) != 3 {
		t.Errorf("GET /oncalls after SetOrg = %d rows, want 3", len(p.OnCalls))
	}
}

func TestLoadOrg(t *testing.T) {
	t.Parallel()
	if _, err := pagerdutytest.LoadOrg("testdata/org.json"); err != nil {
		t.Fatalf("LoadOrg(testdata/org.json): %v", err)
	}
	dir := t.TempDir()
	tests := []struct{ name, json string }{
		{"not JSON", `{`},
		{"unknown user", `{"escalation_policies":[{"id":"P1"}],"oncalls":[{"user_id":"PX","escalation_policy_id":"P1","escalation_level":1}]}`},
		{"bad time", `{"users":[{"id":"PU"}],"escalation_policies":[{"id":"P1"}],"oncalls":[{"user_id":"PU","escalation_policy_id":"P1","escalation_level":1,"start":"2026-03-06 17:00"}]}`},
		{"bad zone", `{"time_zone":"Mars/Olympus"}`},
		{"level 0", `{"users":[{"id":"PU"}],"escalation_policies":[{"id":"P1"}],"oncalls":[{"user_id":"PU","escalation_policy_id":"P1"}]}`},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
		if err := os.WriteFile(p, []byte(tt.json), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := pagerdutytest.LoadOrg(p); err == nil {
			t.Errorf("LoadOrg(%s): no error", tt.name)
		}
	}
	if _, err := pagerdutytest.LoadOrg(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadOrg(missing.json): no error")
	}
}
