// Package job runs one sync: it asks PagerDuty who is on call, finds those
// people and the managed resources in strongDM, plans the grants, applies
// the plan and reports what it did.
package job

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/oncall-access/oncall-access/internal/plan"
	"github.com/oncall-access/oncall-access/internal/report"
	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// Exit codes of a run.
const (
	ExitOK        = 0 // everything planned was done
	ExitFailed    = 1 // some action failed, or someone was unmatched with fail-on-unmatched
	ExitBadConfig = 2 // bad configuration or rejected credentials; nothing was written
)

// Env is what a run takes from its surroundings. Tests and the sandbox
// replace the clock, the waits and the way to reach the services.
type Env struct {
	Version string
	Now     func() time.Time
	Getenv  func(string) string
	Stdout  io.Writer // annotations, and the summary when there is no summary file
	Stderr  io.Writer // log lines

	PagerDutyTransport http.RoundTripper // nil: the default transport
	SDMRootCAs         *x509.CertPool    // nil: the system roots (SSL_CERT_FILE)
	Sleep              func(ctx context.Context, d time.Duration) error
	Rand               func() float64
}

func (e *Env) defaults() {
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	// Annotations and log lines come from the concurrent calls of a run,
	// and the writers given need not be safe for concurrent use.
	mu := new(sync.Mutex)
	e.Stdout, e.Stderr = lockedWriter{mu, e.Stdout}, lockedWriter{mu, e.Stderr}
}

// lockedWriter serialises the writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// run holds the state of one sync as it goes through the steps.
type run struct {
	cfg config.Config
	env Env
	log *slog.Logger
	gha *githubactions.Action
	// inActions is set when running as a GitHub Action step: annotations and
	// log groups are then understood by the runner.
	inActions bool

	now     time.Time
	start   time.Time
	summary report.Summary
	pd      *oncall.Source
	sdm     *strongdm.Client
}

// Run performs one sync with cfg and returns the process exit code.
func Run(ctx context.Context, cfg config.Config, env Env) int {
	env.defaults()
	r := &run{cfg: cfg, env: env, start: env.Now()}
	r.inActions = env.Getenv("GITHUB_ACTIONS") == "true"
	r.gha = githubactions.New(githubactions.WithGetenv(env.Getenv), githubactions.WithWriter(env.Stdout))
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	// In Actions, log lines share stdout with the ::group:: commands: the
	// runner reads stdout and stderr apart, so lines on stderr could land
	// outside their step's group.
	logTo := env.Stderr
	if r.inActions {
		logTo = env.Stdout
	}
	opts := &slog.HandlerOptions{Level: level}
	if r.inActions {
		opts.ReplaceAttr = dropTime // the runner stamps every line itself
	}
	r.log = slog.New(slog.NewTextHandler(logTo, opts))
	if r.inActions {
		// The runner hides these values from every later line of the log,
		// whatever prints them; it does not show the mask commands.
		for _, s := range cfg.Secrets() {
			r.safely("secret mask", func() { r.gha.AddMask(s) })
		}
	}

	r.now = cfg.At
	if r.now.IsZero() {
		r.now = env.Now().UTC().Truncate(time.Second)
	}
	r.summary = report.Summary{
		DryRun:   cfg.DryRun,
		TimeZone: cfg.TimeZone,
		Redact:   r.redact(),
		Version:  env.Version,
	}
	r.summary.Window.Start, r.summary.Window.End = r.now, r.now.Add(cfg.Window)
	if d := r.now.Sub(env.Now()).Abs(); !cfg.At.IsZero() && !cfg.DryRun && d > time.Minute {
		// A plan for another time, applied now, would revoke and trim the
		// grants of the people on call now. Nothing was asked yet.
		BadConfig(config.Problems{{Input: "at", Msg: fmt.Sprintf(
			"%s is %s away from now: plan another time only with -dry-run (dry-run: true)",
			cfg.At.Format(time.RFC3339), d.Round(time.Second))}}, env)
		return ExitBadConfig
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	code := r.sync(ctx)
	if r.summary.Error != "" && !strings.HasPrefix(r.summary.Error, r.stopped(ctx)) {
		// A step cut short often says only "context deadline exceeded":
		// say what ended it.
		r.summary.Error = r.stopped(ctx) + ": " + r.summary.Error
	}
	r.finish(code)
	return code
}

// stopped says what ended the run early: its timeout, or a cancellation
// (the runner cancels a job's steps, a person presses Ctrl-C). It is
// empty while the run goes on.
func (r *run) stopped(ctx context.Context) string {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("the run's timeout of %s expired", r.cfg.Timeout)
	case ctx.Err() != nil:
		return "the run was cancelled"
	}
	return ""
}

// sync runs the steps up to and including apply; finish reports.
func (r *run) sync(ctx context.Context) int {
	var err error
	r.pd, err = oncall.New(oncall.Config{
		BaseURL:   r.cfg.PagerDutyURL,
		Token:     r.cfg.PagerDutyToken,
		Transport: r.env.PagerDutyTransport,
		Sleep:     r.env.Sleep,
		Rand:      r.env.Rand,
		Logger:    r.log,
	})
	if err != nil {
		return r.fail(ExitBadConfig, fmt.Errorf("set up the PagerDuty client: %w", err))
	}
	r.sdm, err = strongdm.New(strongdm.Config{
		Host:      r.cfg.SDMHost,
		AccessKey: r.cfg.SDMAccessKey,
		SecretKey: r.cfg.SDMSecretKey,
		RootCAs:   r.env.SDMRootCAs,
		Now:       r.env.Now,
		Sleep:     r.env.Sleep,
		Rand:      r.env.Rand,
		Logger:    r.log,
	})
	if err != nil {
		return r.fail(ExitBadConfig, fmt.Errorf("set up the strongDM client: %w", err))
	}
	defer r.sdm.Close()

	r.group("Find the managed resources in strongDM")
	resources, err := r.resources(ctx)
	r.endGroup()
	if err != nil {
		return r.fail(r.exitFor(err), err)
	}

	r.group("Ask PagerDuty who is on call")
	res, err := r.pd.OnCall(ctx, oncall.Query{
		Schedules: r.cfg.Schedules,
		Policies:  r.cfg.Policies,
		Levels:    r.cfg.Levels,
		Since:     r.now,
		Until:     r.now.Add(r.cfg.Window),
		Members:   r.cfg.Revoke,
	})
	if err != nil {
		r.endGroup()
		// A partial view of who is on call must never lead to a write.
		return r.fail(r.exitFor(err), fmt.Errorf("ask PagerDuty who is on call: %w", err))
	}
	for _, w := range res.Warnings {
		r.warn(w.Subject + ": " + w.Message)
	}
	for _, e := range res.NoEmail {
		r.summary.Rows = append(r.summary.Rows, report.Row{
			Action: plan.Action{Kind: plan.NoEmail, Person: plan.Person{ID: e.UserID, Name: e.Name},
				Schedules: nonEmpty(e.ScheduleID), Levels: nonZero(e.Level)},
			Status: report.NoEmail,
		})
	}
	shifts := plan.Shifts(res.Entries, plan.ShiftOptions{
		Now:         r.now,
		LeadTime:    r.cfg.LeadTime,
		GracePeriod: r.cfg.GracePeriod,
		MaxDuration: r.cfg.MaxDuration,
		WindowEnd:   r.now.Add(r.cfg.Window), // the query's Until
	})
	r.log.Info("on call", "entries", len(res.Entries), "people", len(shifts))
	r.endGroup()

	r.group("Find the people and their access in strongDM")
	in, err := r.resolve(ctx, shifts, resources, res)
	r.endGroup()
	if err != nil {
		return r.fail(r.exitFor(err), err)
	}

	p, err := plan.Make(in)
	if err != nil {
		// More writes than max-changes: nothing is written, and the plan
		// is still reported so the cap can be judged.
		r.rows(p.Actions, nil)
		return r.fail(ExitFailed, err)
	}
	if p.RevokeSkipped != "" {
		r.summary.Notes = append(r.summary.Notes, "Nothing was revoked: "+p.RevokeSkipped)
	}

	if r.cfg.DryRun {
		r.rows(p.Actions, nil)
		return r.unmatchedExit()
	}
	r.group("Apply the plan")
	outcomes := r.apply(ctx, p.Actions)
	r.endGroup()
	r.rows(p.Actions, outcomes)
	t := r.summary.Totals()
	if t.NotAttempted > 0 {
		r.summary.Error = r.stopped(ctx) + " before every change was made"
	}
	if t.Failed > 0 || t.NotAttempted > 0 {
		return ExitFailed
	}
	return r.unmatchedExit()
}

// unmatchedExit is the exit code of a run that did all it planned: 1 when
// someone on call has no strongDM user and fail-on-unmatched is set, also
// in a dry run, which previews that outcome too.
func (r *run) unmatchedExit() int {
	t := r.summary.Totals()
	if !r.cfg.FailOnUnmatched || t.Unmatched == 0 {
		return ExitOK
	}
	if t.Unmatched == 1 {
		r.errorf("1 person on call has no strongDM user (fail-on-unmatched is set)")
	} else {
		r.errorf("%d people on call have no strongDM user (fail-on-unmatched is set)", t.Unmatched)
	}
	return ExitFailed
}
