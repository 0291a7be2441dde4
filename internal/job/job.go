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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sethvargo/go-githubactions"
	"google.golang.org/grpc/codes"

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
	r.log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime}))
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

	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	code := r.sync(ctx)
	r.finish(code)
	return code
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
	r.endGroup()
	if err != nil {
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
	})
	r.log.Info("on call", "entries", len(res.Entries), "people", len(shifts))

	r.group("Find the people and their access in strongDM")
	in, err := r.resolve(ctx, shifts, resources, res)
	r.endGroup()
	if err != nil {
		return r.fail(r.exitFor(err), err)
	}

	p, err := plan.Make(in)
	var tooMany *plan.TooManyChangesError
	if errors.As(err, &tooMany) {
		r.rows(p.Actions, nil)
		return r.fail(ExitFailed, err)
	}
	if err != nil {
		return r.fail(ExitFailed, fmt.Errorf("plan: %w", err))
	}
	if p.RevokeSkipped != "" {
		r.summary.Notes = append(r.summary.Notes, "Nothing was revoked: "+p.RevokeSkipped)
	}

	if r.cfg.DryRun {
		r.rows(p.Actions, nil)
		return ExitOK
	}
	r.group("Apply the plan")
	outcomes := r.apply(ctx, p.Actions)
	r.endGroup()
	r.rows(p.Actions, outcomes)
	if ctx.Err() != nil {
		r.summary.Error = fmt.Sprintf("the run's timeout of %s expired before every change was made", r.cfg.Timeout)
	}
	t := r.summary.Totals()
	if t.Failed > 0 || ctx.Err() != nil {
		return ExitFailed
	}
	if r.cfg.FailOnUnmatched && t.Unmatched > 0 {
		r.errorf("%d on-call people have no strongDM user (fail-on-unmatched is set)", t.Unmatched)
		return ExitFailed
	}
	return ExitOK
}

// resources finds the managed resources: each name must match exactly one.
func (r *run) resources(ctx context.Context) ([]strongdm.Resource, error) {
	var found []strongdm.Resource
	var problems config.Problems
	for _, name := range r.cfg.Resources {
		filter, err := strongdm.QuoteFilter("name:?", name)
		if err != nil {
			return nil, fmt.Errorf("quote resource name %q: %w", name, err)
		}
		rs, err := r.sdm.ListResources(ctx, filter)
		if err != nil {
			return nil, fmt.Errorf("look up resource %q in strongDM: %w", name, err)
		}
		// strongDM matches names case-insensitively and with wildcards; the
		// input promises an exact name.
		rs = slices.DeleteFunc(rs, func(x strongdm.Resource) bool { return x.Name != name })
		switch len(rs) {
		case 0:
			problems = append(problems, config.Problem{Input: "resources", Msg: fmt.Sprintf("no strongDM resource is named %q", name)})
		case 1:
			found = append(found, rs[0])
		default:
			problems = append(problems, config.Problem{Input: "resources", Msg: fmt.Sprintf("%d strongDM resources are named %q (%s); give a resource-filter that picks one", len(rs), name, ids(rs))})
		}
	}
	if r.cfg.ResourceFilter != "" {
		rs, err := r.sdm.ListResources(ctx, r.cfg.ResourceFilter)
		if err != nil {
			if strongdm.IsCode(err, codes.InvalidArgument) {
				return nil, config.Problems{{Input: "resource-filter", Msg: fmt.Sprintf("strongDM refused the filter %q: %v", r.cfg.ResourceFilter, err)}}
			}
			return nil, fmt.Errorf("list resources matching %q in strongDM: %w", r.cfg.ResourceFilter, err)
		}
		if len(rs) == 0 {
			problems = append(problems, config.Problem{Input: "resource-filter", Msg: fmt.Sprintf("no strongDM resource matches %q", r.cfg.ResourceFilter)})
		}
		for _, x := range rs {
			if !slices.ContainsFunc(found, func(y strongdm.Resource) bool { return y.ID == x.ID }) {
				found = append(found, x)
			}
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	for _, x := range found {
		r.log.Info("managed resource", "name", x.Name, "id", x.ID)
	}
	return found, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func nonZero(n int) []int {
	if n == 0 {
		return nil
	}
	return []int{n}
}

func ids(rs []strongdm.Resource) string {
	s := make([]string, len(rs))
	for i, x := range rs {
		s[i] = x.ID
	}
	return strings.Join(s, ", ")
}

// resolve finds the strongDM user of every person and the access that
// already exists on the managed resources.
func (r *run) resolve(ctx context.Context, shifts []plan.Shift, resources []strongdm.Resource, res oncall.Result) (plan.Input, error) {
	in := plan.Input{
		Now:        r.now,
		Shifts:     shifts,
		Resources:  resources,
		EmailMap:   r.cfg.EmailMap,
		RoleAccess: map[string]bool{},
		Revoke:     r.cfg.Revoke,
		Complete:   true,
		MaxChanges: r.cfg.MaxChanges,
	}
	var emails []string
	for _, s := range shifts {
		if e := r.strongDMEmail(s.Person.Email); e != "" && !slices.Contains(emails, e) {
			emails = append(emails, e)
		}
	}
	for _, e := range res.MemberEmails {
		if e = r.strongDMEmail(e); e != "" && !slices.Contains(emails, e) {
			emails = append(emails, e)
		}
	}
	accounts, err := r.accounts(ctx, emails)
	if err != nil {
		return in, err
	}
	in.Accounts = accounts
	if r.cfg.Revoke {
		in.Members = map[string]bool{}
		for _, e := range res.MemberEmails {
			if a, ok := accounts[r.strongDMEmail(e)]; ok {
				in.Members[a.ID] = true
			}
		}
		for _, s := range shifts {
			if a, ok := accounts[r.strongDMEmail(s.Person.Email)]; ok {
				in.Members[a.ID] = true
			}
		}
	}

	grants := make([][]strongdm.Grant, len(resources))
	access := make([][]strongdm.AccountResource, len(resources))
	err = r.each(ctx, len(resources), func(ctx context.Context, i int) error {
		rf, err := strongdm.QuoteFilter("resourceid:?", resources[i].ID)
		if err != nil {
			return err
		}
		if grants[i], err = r.sdm.ListGrants(ctx, rf); err != nil {
			return fmt.Errorf("list grants on %s: %w", resources[i].Name, err)
		}
		if access[i], err = r.sdm.ListAccountResources(ctx, rf); err != nil {
			return fmt.Errorf("list who can reach %s: %w", resources[i].Name, err)
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	for i := range resources {
		in.Grants = append(in.Grants, grants[i]...)
		for _, a := range access[i] {
			if a.RoleID != "" {
				in.RoleAccess[a.AccountID+"/"+a.ResourceID] = true
			}
		}
	}
	return in, nil
}

// strongDMEmail is the lower-cased strongDM email of a PagerDuty email,
// after the email map.
func (r *run) strongDMEmail(pd string) string {
	e := strings.ToLower(strings.TrimSpace(pd))
	if m, ok := r.cfg.EmailMap[e]; ok {
		return m
	}
	return e
}

// accounts looks up strongDM users by email, one lookup per person.
func (r *run) accounts(ctx context.Context, emails []string) (map[string]strongdm.Account, error) {
	found := make([]*strongdm.Account, len(emails))
	err := r.each(ctx, len(emails), func(ctx context.Context, i int) error {
		f, err := strongdm.QuoteFilter("type:user email:?", emails[i])
		if err != nil {
			return err
		}
		as, err := r.sdm.ListAccounts(ctx, f)
		if err != nil {
			return fmt.Errorf("look up the strongDM user of %s: %w", report.MaskEmail(emails[i]), err)
		}
		for _, a := range as {
			// strongDM's filter is case-insensitive and allows wildcards;
			// only an exact (case-insensitive) email is the same person.
			if a.Kind == "user" && strings.EqualFold(a.Email, emails[i]) {
				found[i] = &a
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]strongdm.Account, len(emails))
	for i, a := range found {
		if a != nil {
			m[emails[i]] = *a
		}
	}
	return m, nil
}

// outcome is what happened when one action was applied.
type outcome struct {
	status report.Status
	err    error
	grant  strongdm.Grant
}

// apply performs the writes of the plan with bounded concurrency. One
// failure does not stop the others.
func (r *run) apply(ctx context.Context, actions []plan.Action) []outcome {
	out := make([]outcome, len(actions))
	_ = r.each(ctx, len(actions), func(ctx context.Context, i int) error {
		out[i] = r.applyOne(ctx, actions[i])
		return nil
	})
	return out
}

func (r *run) applyOne(ctx context.Context, a plan.Action) outcome {
	if ctx.Err() != nil {
		switch a.Kind {
		case plan.Create, plan.Extend, plan.Revoke:
			return outcome{status: report.NotAttempted, err: fmt.Errorf("the run's timeout of %s expired first", r.cfg.Timeout)}
		}
	}
	who := r.who(a)
	switch a.Kind {
	case plan.Create:
		if a.Grant.ID != "" {
			// The plan revokes a stale grant on this pair; strongDM would
			// refuse the new one while it exists.
			if err := r.sdm.DeleteGrant(ctx, a.Grant.ID); err != nil && !strongdm.IsCode(err, codes.NotFound) {
				r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
				return outcome{status: report.Failed, err: fmt.Errorf("revoke stale grant %s first: %w", a.Grant.ID, err)}
			}
		}
		g, err := r.create(ctx, a, a.Start, a.End)
		if strongdm.IsCode(err, codes.AlreadyExists) {
			// Made by an earlier attempt of this call, or by a concurrent run.
			r.log.Info("already granted", "person", who, "resource", a.Resource.Name)
			return outcome{status: report.AlreadyGranted}
		}
		if err != nil {
			r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
			return outcome{status: report.Failed, err: err}
		}
		r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End)
		return outcome{status: report.Created, grant: g}
	case plan.Extend:
		return r.extend(ctx, a)
	case plan.Revoke:
		err := r.sdm.DeleteGrant(ctx, a.Grant.ID)
		if err != nil && !strongdm.IsCode(err, codes.NotFound) {
			r.errorf("could not revoke %s from %s: %v", a.Resource.Name, who, err)
			return outcome{status: report.Failed, err: err}
		}
		r.log.Info("revoked", "person", who, "resource", a.Resource.Name, "grant", a.Grant.ID)
		return outcome{status: report.Revoked}
	}
	return outcome{}
}

func (r *run) create(ctx context.Context, a plan.Action, start, end time.Time) (strongdm.Grant, error) {
	return r.sdm.CreateGrant(ctx, strongdm.Grant{ResourceID: a.Resource.ID, AccountID: a.Account.ID, Start: start, End: end})
}

// extend adds the uncovered part of a shift. Where strongDM holds only one
// grant per pair, it replaces the old grant by one for the whole interval:
// delete then create at once, and put the old grant back if the create
// fails, so the person is never left without access for longer than that.
func (r *run) extend(ctx context.Context, a plan.Action) outcome {
	who := r.who(a)
	g, err := r.create(ctx, a, a.Start, a.End)
	if err == nil {
		r.log.Info("extended", "person", who, "resource", a.Resource.Name, "until", a.End)
		return outcome{status: report.Extended, grant: g}
	}
	if !strongdm.IsCode(err, codes.AlreadyExists) {
		r.errorf("could not extend %s for %s: %v", a.Resource.Name, who, err)
		return outcome{status: report.Failed, err: err}
	}
	start := a.Grant.Start
	if start.IsZero() || start.After(a.Start) {
		start = a.Start
	}
	end := a.Grant.End
	if a.End.After(end) {
		end = a.End
	}
	if err := r.sdm.DeleteGrant(ctx, a.Grant.ID); err != nil && !strongdm.IsCode(err, codes.NotFound) {
		r.errorf("could not replace the grant of %s on %s: %v", who, a.Resource.Name, err)
		return outcome{status: report.Failed, err: fmt.Errorf("delete grant %s to replace it: %w", a.Grant.ID, err)}
	}
	g, err = r.create(ctx, a, start, end)
	if err != nil {
		// Restore what the person had; the error is what gets reported.
		if _, rerr := r.create(ctx, a, a.Grant.Start, a.Grant.End); rerr != nil {
			err = fmt.Errorf("%w (and restoring the old grant failed: %v)", err, rerr)
		}
		r.errorf("could not replace the grant of %s on %s: %v", who, a.Resource.Name, err)
		return outcome{status: report.Failed, err: err}
	}
	r.log.Info("replaced grant", "person", who, "resource", a.Resource.Name, "from", start, "until", end)
	return outcome{status: report.Replaced, grant: g}
}

// each runs f for 0..n-1 with at most the configured concurrency, and
// returns the first error after every call has finished.
func (r *run) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, max(1, r.cfg.Concurrency))
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// rows turns the plan and what happened into summary rows.
func (r *run) rows(actions []plan.Action, outcomes []outcome) {
	for i, a := range actions {
		row := report.Row{Action: a, Status: report.Planned(a.Kind, r.cfg.DryRun)}
		if outcomes != nil && outcomes[i].status != "" {
			row.Status = outcomes[i].status
			if outcomes[i].err != nil {
				row.Err = outcomes[i].err.Error()
			}
		}
		if a.Kind == plan.Unmatched {
			// The summary has its own section for these; this is the annotation.
			r.annotate(fmt.Sprintf("%s is on call but no strongDM user has the email %s", a.Person.Name, r.email(a.Person.Email)))
		}
		r.summary.Rows = append(r.summary.Rows, row)
	}
}

func (r *run) who(a plan.Action) string {
	if a.Person.Name != "" {
		return a.Person.Name + " <" + r.email(a.Person.Email) + ">"
	}
	return r.email(a.Person.Email)
}

func (r *run) email(e string) string {
	if r.summary.Redact {
		return report.MaskEmail(e)
	}
	return e
}

// redact decides whether emails are masked: "auto" masks them when the
// event's repository is public.
func (r *run) redact() bool {
	switch r.cfg.Redact {
	case "true":
		return true
	case "false":
		return false
	}
	ctx, err := r.gha.Context()
	if err != nil || ctx.Event == nil {
		return false
	}
	repo, _ := ctx.Event["repository"].(map[string]any)
	private, ok := repo["private"].(bool)
	if vis, _ := repo["visibility"].(string); vis == "public" {
		return true
	}
	return ok && !private
}

// fail records a run-stopping error for the summary and returns code.
func (r *run) fail(code int, err error) int {
	msg := err.Error()
	if code == ExitBadConfig {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				r.errorf("%s", p.Error())
			}
		} else {
			r.errorf("%s", msg)
		}
	} else {
		r.errorf("%s", msg)
	}
	r.summary.Error = msg
	return code
}

// exitFor tells configuration and credential errors (exit 2) from failures.
func (r *run) exitFor(err error) int {
	var ce *oncall.ConfigError
	if config.IsProblems(err) || errors.As(err, &ce) ||
		strongdm.IsCode(err, codes.Unauthenticated) || strongdm.IsCode(err, codes.PermissionDenied) {
		return ExitBadConfig
	}
	return ExitFailed
}

func (r *run) warn(msg string) {
	r.summary.Warnings = append(r.summary.Warnings, msg)
	r.annotate(msg)
}

// annotate shows a warning in the log, as an annotation in Actions.
func (r *run) annotate(msg string) {
	if r.inActions {
		r.safely("annotation", func() { r.gha.Warningf("%s", msg) })
		return
	}
	r.log.Warn(msg)
}

func (r *run) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if r.inActions {
		r.safely("annotation", func() { r.gha.Errorf("%s", msg) })
		return
	}
	r.log.Error(msg)
}

func (r *run) group(title string) {
	if r.inActions {
		r.safely("log group", func() { r.gha.Group(title) })
		return
	}
	r.log.Info(strings.ToLower(title[:1]) + title[1:])
}

func (r *run) endGroup() {
	if r.inActions {
		r.safely("log group", r.gha.EndGroup)
	}
}

// safely runs a go-githubactions call, which panics when it cannot write.
// A report that cannot be written must never fail a sync that worked.
func (r *run) safely(what string, f func()) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Warn("could not write the "+what, "error", fmt.Sprint(p))
			ok = false
		}
	}()
	f()
	return true
}

// finish writes the summary, the outputs and the final log line.
func (r *run) finish(code int) {
	r.summary.Duration = r.env.Now().Sub(r.start)
	r.summary.Calls = r.calls()
	md := report.Markdown(r.summary)
	if r.env.Getenv("GITHUB_STEP_SUMMARY") != "" {
		if !r.safely("job summary", func() { r.gha.AddStepSummary(md) }) {
			r.warnOnly("the job summary could not be written to GITHUB_STEP_SUMMARY")
		}
	} else {
		fmt.Fprintln(r.env.Stdout, md)
	}
	if r.env.Getenv("GITHUB_OUTPUT") != "" {
		outs := report.Outputs(r.summary)
		keys := make([]string, 0, len(outs))
		for k := range outs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !r.safely("step outputs", func() { r.gha.SetOutput(k, outs[k]) }) {
				r.warnOnly("the step outputs could not be written to GITHUB_OUTPUT")
				break
			}
		}
	}
	t := r.summary.Totals()
	r.log.Info("done", "created", t.Created, "existing", t.Existing, "revoked", t.Revoked,
		"unmatched", t.Unmatched, "failed", t.Failed, "exit", code)
}

// warnOnly is a warning that is not part of the summary (it is about the
// summary itself).
func (r *run) warnOnly(msg string) {
	if r.inActions {
		r.safely("annotation", func() { r.gha.Warningf("%s", msg) })
	}
	r.log.Warn(msg)
}

// calls reports how many API calls each service received, as far as the
// clients know them.
func (r *run) calls() map[string]int {
	m := map[string]int{}
	if r.pd != nil {
		m["PagerDuty"] = r.pd.Requests()
	}
	if r.sdm != nil {
		reads, writes := r.sdm.Calls()
		m["strongDM reads"], m["strongDM writes"] = reads, writes
	}
	return m
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}
