package contract_test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/sandbox"
)

// Events as the runner writes them to GITHUB_EVENT_PATH: the repository's
// visibility decides what redact: auto does.
const (
	publicEvent  = `{"schedule":"*/30 * * * *","repository":{"full_name":"acme/infra","private":false,"visibility":"public"}}`
	privateEvent = `{"schedule":"*/30 * * * *","repository":{"full_name":"acme/infra","private":true,"visibility":"private"}}`
)

// fullEmail is an email whose local part shows more than its first letter.
var fullEmail = regexp.MustCompile(`[a-z]{2,}@example\.com`)

// Ensure the built binary, run exactly as the runner runs the action
// against the emulators, writes the outputs and the summary, groups its
// log by step, and masks emails in a public repository only.
func TestRunnerContract(t *testing.T) {
	meta := loadAction(t)
	for _, tt := range []struct {
		name   string
		event  string
		masked bool
	}{
		{"public repository", publicEvent, true},
		{"private repository", privateEvent, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sb, err := sandbox.Serve(sandbox.Sample(time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sb.Close)
			info, err := sb.Info()
			if err != nil {
				t.Fatal(err)
			}
			secrets := map[string]string{
				"pagerduty-token":    info.PagerDutyToken,
				"sdm-api-access-key": info.SDMAccessKey,
				"sdm-api-secret-key": info.SDMSecretKey,
			}
			given := map[string]string{
				"pagerduty-api-url":             info.PagerDutyURL,
				"pagerduty-schedules":           strings.Join(info.Schedules, "\n"),
				"pagerduty-escalation-policies": strings.Join(info.Policies, ", "),
				"sdm-api-host":                  info.SDMHost,
				"resources":                     strings.Join(info.Resources, ", "),
			}
			for k, v := range secrets {
				given[k] = v
			}
			// The runner's own debug switch adds a line per request.
			r := runnerRun(t, meta, given, tt.event, "SSL_CERT_FILE="+info.CAFile, "ACTIONS_STEP_DEBUG=true")
			if r.code != 0 {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}

			checkOutputs(t, meta, r, tt.masked)
			checkSummary(t, r, tt.masked)
			checkGroups(t, r.stdout)
			for _, want := range []string{`msg="pagerduty request"`, `msg="strongdm call"`} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("debug log has no %s line:\n%s", want, r.stdout)
				}
			}
			for name, secret := range secrets {
				if !strings.Contains(r.stdout, "::add-mask::"+secret+"\n") {
					t.Errorf("no ::add-mask:: for %s", name)
				}
				for where, text := range map[string]string{
					"stdout": withoutMasks(r.stdout), "stderr": r.stderr,
					"summary": r.summary, "outputs": r.outputs["plan"],
				} {
					if strings.Contains(text, secret) {
						t.Errorf("%s shows the %s", where, name)
					}
				}
			}
			if got := fullEmail.MatchString(r.stdout + r.stderr); got == tt.masked {
				t.Errorf("log shows full emails = %v, want %v:\n%s", got, !tt.masked, r.stdout)
			}
		})
	}
}

// Ensure `sandbox: true` alone, with every other input at its action.yml
// default and no credentials, runs the whole job (the CI's `uses: ./`
// step), and that a dry run there writes nothing.
func TestRunnerSandbox(t *testing.T) {
	meta := loadAction(t)
	r := runnerRun(t, meta, map[string]string{"sandbox": "true"}, publicEvent)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	checkOutputs(t, meta, r, true)

	r = runnerRun(t, meta, map[string]string{"sandbox": "true", "dry-run": "true"}, privateEvent)
	if r.code != 0 {
		t.Fatalf("dry run: exit %d, want 0\nstdout:\n%s", r.code, r.stdout)
	}
	if got := r.outputs["created"]; got != "0" {
		t.Errorf("dry run: created = %q, want 0", got)
	}
	if !strings.Contains(r.outputs["plan"], `"status":"would create"`) {
		t.Errorf("dry run: plan has no \"would create\": %s", r.outputs["plan"])
	}
	if !strings.Contains(r.summary, "Dry run") {
		t.Errorf("dry run: summary has no dry-run banner:\n%s", r.summary)
	}
}

// Ensure a bad input ends the run with exit 2 and an error annotation
// that names the input, and writes nothing to the output file.
func TestRunnerBadInput(t *testing.T) {
	meta := loadAction(t)
	r := runnerRun(t, meta, map[string]string{"sandbox": "true", "window": "tomorrow"}, publicEvent)
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr+r.stdout, "window") {
		t.Errorf("the error does not name the input window:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if len(r.outputs) != 0 {
		t.Errorf("outputs = %v, want none", r.outputs)
	}
}

func checkOutputs(t *testing.T, meta actionMeta, r run, masked bool) {
	t.Helper()
	for _, o := range meta.Outputs {
		if _, ok := r.outputs[o.Name]; !ok {
			t.Errorf("output %q of action.yml was not set", o.Name)
		}
	}
	if len(r.outputs) != len(meta.Outputs) {
		t.Errorf("%d outputs set, action.yml declares %d: %v", len(r.outputs), len(meta.Outputs), r.outputs)
	}
	// The sample organisation: grants to create, two pairs with access
	// already, one person with no strongDM user, nothing failing.
	counts := map[string]func(n int) bool{
		"created":   func(n int) bool { return n > 0 },
		"existing":  func(n int) bool { return n == 2 },
		"revoked":   func(n int) bool { return n == 0 },
		"unmatched": func(n int) bool { return n == 1 },
		"failed":    func(n int) bool { return n == 0 },
	}
	for name, ok := range counts {
		n, err := strconv.Atoi(r.outputs[name])
		if err != nil || !ok(n) {
			t.Errorf("output %s = %q, not the count the sample organisation gives", name, r.outputs[name])
		}
	}
	var plan []struct {
		Person, Email, Resource, Start, End, Status string
	}
	if err := json.Unmarshal([]byte(r.outputs["plan"]), &plan); err != nil {
		t.Fatalf("output plan is not JSON: %v\n%s", err, r.outputs["plan"])
	}
	if len(plan) == 0 {
		t.Fatal("output plan is empty")
	}
	for _, p := range plan {
		if p.Email == "" {
			continue
		}
		if got := strings.Contains(p.Email, "***@"); got != masked {
			t.Errorf("plan email %q masked = %v, want %v", p.Email, got, masked)
		}
		if _, err := time.Parse(time.RFC3339, p.Start); err != nil {
			t.Errorf("plan start %q is not RFC 3339", p.Start)
		}
	}
}

func checkSummary(t *testing.T, r run, masked bool) {
	t.Helper()
	for _, want := range []string{"## On-call access", "**Window:**", "### Access", "| person |", "oncall-access " + testVersion} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary has no %q:\n%s", want, r.summary)
		}
	}
	if got := strings.Contains(r.summary, "a\\*\\*\\*@example.com"); got != masked {
		t.Errorf("summary shows a***@example.com = %v, want %v:\n%s", got, masked, r.summary)
	}
	if got := fullEmail.MatchString(r.summary); got == masked {
		t.Errorf("summary shows full emails = %v, want %v:\n%s", got, !masked, r.summary)
	}
	if strings.Contains(r.stdout, "## On-call access") {
		t.Error("the summary went to stdout as well as to GITHUB_STEP_SUMMARY")
	}
}

// checkGroups requires one ::group:: per step of the job, each closed
// before the next opens, with the step's log lines inside it.
func checkGroups(t *testing.T, stdout string) {
	t.Helper()
	var groups []string
	open := ""
	inside := map[string]string{}
	for line := range strings.SplitSeq(stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "::group::"):
			if open != "" {
				t.Errorf("group %q opens inside group %q", line, open)
			}
			open = strings.TrimPrefix(line, "::group::")
			groups = append(groups, open)
		case line == "::endgroup::":
			if open == "" {
				t.Error("::endgroup:: with no group open")
			}
			open = ""
		case open != "":
			inside[open] += line + "\n"
		}
	}
	if open != "" {
		t.Errorf("group %q is never closed", open)
	}
	want := []string{
		"Find the managed resources in strongDM",
		"Ask PagerDuty who is on call",
		"Find the people and their access in strongDM",
		"Apply the plan",
	}
	if strings.Join(groups, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups = %q, want %q", groups, want)
	}
	// Each step's own lines must land in its group.
	for group, line := range map[string]string{
		want[0]: `msg="managed resource"`,
		want[1]: `msg="pagerduty request"`,
		want[2]: `method=Accounts.List`,
		want[3]: `msg=granted`,
	} {
		if !strings.Contains(inside[group], line) {
			t.Errorf("group %q has no %s line:\n%s", group, line, inside[group])
		}
	}
}

// withoutMasks drops the ::add-mask:: commands, which the runner reads and
// never shows.
func withoutMasks(s string) string {
	var keep []string
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.HasPrefix(line, "::add-mask::") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
