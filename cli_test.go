package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args []string, env map[string]string) (int, string, string) {
	var stdout, stderr strings.Builder
	code := run(t.Context(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := runCLI(t, []string{"-version"}, nil)
	if code != 0 || !strings.HasPrefix(out, "oncall-access dev") || strings.Count(out, "\n") != 1 {
		t.Errorf("-version: exit %d, %q", code, out)
	}
	code, _, errOut := runCLI(t, []string{"-help"}, nil)
	if code != 0 || !strings.Contains(errOut, "-pagerduty-schedules") || !strings.Contains(errOut, "(default 24h)") {
		t.Errorf("-help: exit %d\n%s", code, errOut)
	}
}

// Bad input: exit 2, one line per problem naming the input, before any
// request (there is nothing to send it to here).
func TestBadInputExits2(t *testing.T) {
	code, _, errOut := runCLI(t, nil, map[string]string{
		"INPUT_WINDOW":             "soon",
		"INPUT_SDM-API-SECRET-KEY": "not base64!",
		"INPUT_SDM-API-HOST":       "app.strongdm.com",
	})
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, input := range []string{"window:", "sdm-api-secret-key:", "sdm-api-host:", "pagerduty-token:", "pagerduty-schedules:", "resources:"} {
		n := 0
		for _, line := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(line, input) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines start with %q, want 1:\n%s", n, input, errOut)
		}
	}
}

// The sandbox shows every kind of row a newcomer should see.
func TestSandbox(t *testing.T) {
	for _, args := range [][]string{{"-sandbox"}, {"-sandbox", "-at", "2026-03-06T12:00:00Z"}} {
		code, out, errOut := runCLI(t, args, nil)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, errOut)
		}
		for _, want := range []string{"| created |", "| already granted |", "no strongDM user has this email", "suspended", "already has access (role)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: the sandbox summary lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// In Actions, a refused configuration shows where people look: as error
// annotations and in the job summary.
func TestBadInputInActions(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "summary.md")
	code, out, _ := runCLI(t, nil, map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_STEP_SUMMARY": summary,
		"INPUT_WINDOW":        "100d",
	})
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{"window", "pagerduty-schedules", "resources"} {
		if !strings.Contains(out, "::error::"+input+": ") {
			t.Errorf("no error annotation for %s:\n%s", input, out)
		}
		if !strings.Contains(string(b), "`"+input+"`") {
			t.Errorf("the summary does not name %s:\n%s", input, b)
		}
	}
}

// The README's summary example is what the sandbox prints for the command
// it names: its table rows and totals line appear verbatim.
func TestREADMESummaryExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Job summary\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var want []string
	for _, line := range strings.Split(section, "\n") {
		if l, ok := strings.CutPrefix(line, "> "); ok && (strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "**")) {
			want = append(want, l)
		}
	}
	if len(want) < 4 {
		t.Fatalf("found %d example lines in README's Job summary section", len(want))
	}
	code, out, errOut := runCLI(t, []string{"-sandbox", "-at", "2026-03-06T12:00:00Z", "-time-zone", "Europe/Paris"}, nil)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, l := range want {
		if !strings.Contains(out, l) {
			t.Errorf("README shows %q, which the sandbox does not print:\n%s", l, out)
		}
	}
}
