package config

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// env is a fake environment: the runner's INPUT_ variables and friends.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func valid() env {
	return env{
		"INPUT_PAGERDUTY-TOKEN":     "pd-token",
		"INPUT_PAGERDUTY-SCHEDULES": "PSCHED1",
		"INPUT_SDM-API-ACCESS-KEY":  "access",
		"INPUT_SDM-API-SECRET-KEY":  "c2VjcmV0LWtleQ==",
		"INPUT_RESOURCES":           "prod-db",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, valid().get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != 24*time.Hour || c.Timeout != 5*time.Minute || c.MaxChanges != 100 || c.Concurrency != 4 {
		t.Errorf("defaults: window %v timeout %v max-changes %d concurrency %d", c.Window, c.Timeout, c.MaxChanges, c.Concurrency)
	}
	if c.PagerDutyURL != "https://api.pagerduty.com" || c.SDMHost != "app.strongdm.com:443" || c.Redact != "auto" || c.TimeZone.String() != "UTC" {
		t.Errorf("defaults: %q %q %q %v", c.PagerDutyURL, c.SDMHost, c.Redact, c.TimeZone)
	}
	if c.DryRun || c.Revoke || c.Sandbox || len(c.Levels) != 0 || c.MaxDuration != 0 {
		t.Errorf("defaults: %+v", c)
	}
}

// C17: hyphenated INPUT_ names, empty values meaning "not set", multiline
// lists with padding.
func TestLoadRunnerPlumbing(t *testing.T) {
	e := valid()
	e["INPUT_PAGERDUTY-SCHEDULES"] = "PSCHED1\n  PSCHED2 \n"
	e["INPUT_WINDOW"] = ""
	e["INPUT_PAGERDUTY_SCHEDULES"] = "PWRONG1" // never read: the runner keeps hyphens
	c, err := Load(nil, e.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Schedules, []string{"PSCHED1", "PSCHED2"}) {
		t.Errorf("schedules = %q", c.Schedules)
	}
	if c.Window != 24*time.Hour {
		t.Errorf("empty window = %v, want the 24h default", c.Window)
	}
}

func TestLoadPrecedence(t *testing.T) {
	e := valid()
	delete(e, "INPUT_PAGERDUTY-TOKEN")
	e["PAGERDUTY_TOKEN"] = "from-env"
	e["INPUT_WINDOW"] = "12h"
	c, err := Load([]string{"-window", "6h", "-at", "2026-03-06T13:00:00+01:00"}, e.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PagerDutyToken != "from-env" {
		t.Errorf("token from PAGERDUTY_TOKEN not read")
	}
	if c.Window != 6*time.Hour {
		t.Errorf("flag should win over input: window = %v", c.Window)
	}
	if want := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC); !c.At.Equal(want) {
		t.Errorf("at = %v, want %v", c.At, want)
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(env)
		input string // the input the one problem must name
	}{
		{"no schedule or policy", func(e env) { e["INPUT_PAGERDUTY-SCHEDULES"] = "  \n " }, "pagerduty-schedules"},
		{"window beyond 90 days (C17)", func(e env) { e["INPUT_WINDOW"] = "2161h" }, "window"},
		{"unparseable window", func(e env) { e["INPUT_WINDOW"] = "tomorrow" }, "window"},
		{"quoted secret (C12)", func(e env) { e["INPUT_SDM-API-SECRET-KEY"] = `"c2VjcmV0LWtleQ=="` }, "sdm-api-secret-key"},
		{"host without port", func(e env) { e["INPUT_SDM-API-HOST"] = "app.strongdm.com" }, "sdm-api-host"},
		{"no resource", func(e env) { e["INPUT_RESOURCES"] = "" }, "resources"},
		{"no token", func(e env) { delete(e, "INPUT_PAGERDUTY-TOKEN") }, "pagerduty-token"},
		{"plain http to a remote host", func(e env) { e["INPUT_PAGERDUTY-API-URL"] = "http://api.pagerduty.com" }, "pagerduty-api-url"},
		{"id outside PagerDuty's alphabet", func(e env) { e["INPUT_PAGERDUTY-SCHEDULES"] = "P1/../users" }, "pagerduty-schedules"},
		{"bad level", func(e env) { e["INPUT_ESCALATION-LEVELS"] = "first" }, "escalation-levels"},
		{"bad email map", func(e env) { e["INPUT_EMAIL-MAP"] = "alice" }, "email-map"},
		{"bad time zone", func(e env) { e["INPUT_TIME-ZONE"] = "Mars/Olympus" }, "time-zone"},
		{"bad bool", func(e env) { e["INPUT_DRY-RUN"] = "maybe" }, "dry-run"},
		{"zero concurrency", func(e env) { e["INPUT_CONCURRENCY"] = "0" }, "concurrency"},
		{"underscores instead of hyphens", func(e env) { e["INPUT_DRY_RUN"] = "true" }, "dry-run"},
		{"quoted token", func(e env) { e["INPUT_PAGERDUTY-TOKEN"] = `"pd-token"` }, "pagerduty-token"},
		{"access key on two lines", func(e env) { e["INPUT_SDM-API-ACCESS-KEY"] = "access\nkey" }, "sdm-api-access-key"},
		{"password in the PagerDuty URL", func(e env) { e["INPUT_PAGERDUTY-API-URL"] = "https://user:pd-token@api.pagerduty.com" }, "pagerduty-api-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.edit(e)
			_, err := Load(nil, e.get, io.Discard)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			if len(ps) != 1 || ps[0].Input != tt.input {
				t.Fatalf("problems = %v, want one naming %s", ps, tt.input)
			}
			for _, s := range []string{"c2VjcmV0LWtleQ==", "pd-token"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

// C12 B: a pasted secret with a trailing newline is fine.
func TestLoadSecretWithNewline(t *testing.T) {
	e := valid()
	e["INPUT_SDM-API-SECRET-KEY"] = "c2VjcmV0LWtleQ==\n"
	if _, err := Load(nil, e.get, io.Discard); err != nil {
		t.Fatal(err)
	}
}

func TestLoadEveryProblemAtOnce(t *testing.T) {
	_, err := Load(nil, env{"INPUT_WINDOW": "x"}.get, io.Discard)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) < 5 {
		t.Fatalf("want one problem per bad input, got %v", err)
	}
}

func TestLoadHelp(t *testing.T) {
	var out strings.Builder
	_, err := Load([]string{"-help"}, env{}.get, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, in := range Inputs {
		if !strings.Contains(out.String(), "-"+in.Name) {
			t.Errorf("help does not list -%s", in.Name)
		}
	}
	if !strings.Contains(out.String(), "(default 24h)") {
		t.Errorf("help does not show defaults:\n%s", out.String())
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"none", 0, true}, {"90m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true}, {"-1h", 0, false}, {"1x", 0, false}, {"d", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func FuzzList(f *testing.F) {
	for _, s := range []string{"A,B", "A\n B \n", ",,", "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, item := range List(s) {
			if item == "" || item != strings.TrimSpace(item) || strings.ContainsAny(item, ",\n") {
				t.Fatalf("List(%q) gave %q", s, item)
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"24h", "7d", "none", "-3d", "99999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
	})
}

func FuzzParseEmailMap(f *testing.F) {
	for _, s := range []string{"a@x = b@y", "a@x=b@y\nc@x=d@y", "=", "a@x = b@y, a@x = c@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseEmailMap(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k != strings.ToLower(k) || !strings.Contains(v, "@") {
				t.Fatalf("ParseEmailMap(%q) gave %q = %q", s, k, v)
			}
		}
	})
}
