package job_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/actionstest"
	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/job"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// now is the fixed "now" of the cases.
var now = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

// clock is a fake clock: sleeping advances it instantly, so backoff and
// rate-limit waits are asserted without being waited for.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var total time.Duration
	for _, d := range c.sleeps {
		total += d
	}
	return total
}

// caseOrg is the strongDM organisation every case starts with.
func caseOrg() strongdmtest.Org {
	return strongdmtest.Org{
		Resources: []strongdmtest.Resource{{ID: "rs-0001", Name: "prod-db", Type: "postgres"}},
		Accounts: []strongdmtest.Account{
			{ID: "a-0001", Kind: "user", Email: "alice@example.com", FirstName: "Alice"},
			{ID: "a-0002", Kind: "user", Email: "bob@example.com", FirstName: "Bob"},
			{ID: "a-0003", Kind: "user", Email: "carol@example.com", FirstName: "Carol"},
		},
	}
}

// casePeople is the PagerDuty side every case starts with.
func casePeople() pagerdutytest.Org {
	return pagerdutytest.Org{
		Users: []pagerdutytest.User{
			{ID: "PALICE1", Name: "Alice", Email: "alice@example.com"},
			{ID: "PBOB001", Name: "Bob", Email: "bob@example.com"},
			{ID: "PCAROL1", Name: "Carol", Email: "carol@example.com"},
		},
		EscalationPolicies: []pagerdutytest.Policy{{ID: "PEP0001", Name: "Primary"}, {ID: "PEP0002", Name: "Backup"}},
		Schedules: []pagerdutytest.Schedule{{ID: "PSCHED1", Name: "Primary", EscalationPolicies: []string{"PEP0001"},
			Users: []string{"PALICE1", "PBOB001", "PCAROL1"}}},
	}
}

func shift(user string, level int, start, end string) pagerdutytest.OnCall {
	return pagerdutytest.OnCall{UserID: user, ScheduleID: "PSCHED1", EscalationPolicyID: "PEP0001",
		EscalationLevel: level, Start: start, End: end}
}

// harness runs the job against both emulators the way the runner would:
// inputs as INPUT_ variables, a summary file and an outputs file.
type harness struct {
	t      *testing.T
	pd     *pagerdutytest.Server
	sdm    *strongdmtest.Server
	clock  *clock
	inputs map[string]string // by input name
	extra  map[string]string // other environment variables
	dir    string
	// ctx is the run's parent context (nil: Background), so a test can end
	// the run by the fake clock; env adjusts the run's Env when set.
	ctx context.Context
	env func(*job.Env)

	code           int
	stdout, stderr string
	summary        string
	outputs        string
}

func newHarness(t *testing.T, pd pagerdutytest.Org, sdm strongdmtest.Org) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{t: now}, dir: t.TempDir()}
	h.pd = pagerdutytest.NewServer(pd)
	t.Cleanup(h.pd.Close)
	var err error
	h.sdm, err = strongdmtest.NewServer(sdm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.sdm.Close)
	h.sdm.SetClock(h.clock.Now)
	h.inputs = map[string]string{
		"pagerduty-token":     h.pd.Token(),
		"pagerduty-api-url":   h.pd.URL(),
		"pagerduty-schedules": "PSCHED1",
		"sdm-api-access-key":  h.sdm.AccessKey(),
		"sdm-api-secret-key":  h.sdm.SecretKey(),
		"sdm-api-host":        h.sdm.Addr(),
		"resources":           "prod-db",
		"window":              "24h",
		// Outside a real event, "auto" masks emails in Actions; the tests
		// read emails back from the summary.
		"redact": "false",
	}
	h.extra = map[string]string{}
	return h
}

func (h *harness) getenv(k string) string {
	if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
		for n, v := range h.inputs {
			if strings.ToUpper(n) == name {
				return v
			}
		}
		return ""
	}
	return h.extra[k]
}

// run runs the job once at the case's "now" and records what it wrote.
func (h *harness) run(args ...string) int {
	h.t.Helper()
	summary := filepath.Join(h.dir, "summary.md")
	outputs := filepath.Join(h.dir, "outputs")
	os.Remove(summary)
	os.Remove(outputs)
	if _, ok := h.extra["GITHUB_STEP_SUMMARY"]; !ok {
		h.extra["GITHUB_STEP_SUMMARY"] = summary
	}
	if _, ok := h.extra["GITHUB_OUTPUT"]; !ok {
		h.extra["GITHUB_OUTPUT"] = outputs
	}
	var stdout, stderr bytes.Buffer
	env := job.Env{
		Version:    "test",
		Now:        h.clock.Now,
		Stdout:     &stdout,
		Stderr:     &stderr,
		SDMRootCAs: h.sdm.CertPool(),
		Sleep:      h.clock.Sleep,
		Rand:       func() float64 { return 0.5 },
	}
	if h.env != nil {
		h.env(&env)
	}
	ctx := h.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	h.code = runJob(ctx, append([]string{"-at", h.clock.Now().Format(time.RFC3339)}, args...), h.getenv, env)
	h.stdout, h.stderr = stdout.String(), stderr.String()
	b, _ := os.ReadFile(h.extra["GITHUB_STEP_SUMMARY"])
	h.summary = string(b)
	b, _ = os.ReadFile(outputs)
	h.outputs = string(b)
	h.noSecrets()
	return h.code
}

// runJob loads the configuration as main does and runs the job.
func runJob(ctx context.Context, args []string, getenv func(string) string, env job.Env) int {
	cfg, err := config.Load(args, getenv, io.Discard)
	if err != nil {
		if env.Stderr != nil {
			io.WriteString(env.Stderr, err.Error())
		}
		return job.ExitBadConfig
	}
	env.Getenv = getenv
	return job.Run(ctx, cfg, env)
}

// noSecrets fails the test when a token or key shows anywhere.
func (h *harness) noSecrets() {
	h.t.Helper()
	for _, name := range []string{"pagerduty-token", "sdm-api-access-key", "sdm-api-secret-key"} {
		secret := strings.Trim(strings.TrimSpace(h.inputs[name]), `"`)
		if len(secret) < 6 {
			continue
		}
		// The runner reads ::add-mask:: commands and never shows them.
		stdout := strings.ReplaceAll(h.stdout, "::add-mask::"+secret+"\n", "")
		for where, text := range map[string]string{"stdout": stdout, "stderr": h.stderr, "summary": h.summary, "outputs": h.outputs} {
			if strings.Contains(text, secret) {
				h.t.Errorf("%s shows the %s", where, name)
			}
		}
	}
}

// grants are the grants the strongDM emulator holds, as "account resource
// start → end" lines.
func (h *harness) grants() []string {
	var out []string
	for _, g := range h.sdm.Grants() {
		out = append(out, grantLine(g))
	}
	return out
}

func grantLine(g strongdm.Grant) string {
	return g.AccountID + " " + g.ResourceID + " " + g.Start.UTC().Format(time.RFC3339) + " → " + g.End.UTC().Format(time.RFC3339)
}

// output returns one step output from the GITHUB_OUTPUT file.
func (h *harness) output(name string) string {
	outs, err := actionstest.ParseOutputs(h.outputs)
	if err != nil {
		h.t.Fatalf("outputs file: %v\n%s", err, h.outputs)
	}
	return outs[name]
}
