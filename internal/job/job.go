// Package job runs one sync: it asks PagerDuty who is on call, finds those
// people and the managed resources in strongDM, plans the grants, applies
// the plan and reports what it did.
package job

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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
	r.log = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime}))
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
	if ctx.Err() != nil && r.summary.Error != "" && !strings.HasPrefix(r.summary.Error, timeoutPrefix) {
		// A step cut short by the deadline often says only "context
		// deadline exceeded": say which setting ended it.
		r.summary.Error = fmt.Sprintf("%s of %s expired: %s", timeoutPrefix, cfg.Timeout, r.summary.Error)
	}
	r.finish(code)
	return code
}

// timeoutPrefix starts the summary's error when the run's deadline ended it.
const timeoutPrefix = "the run's timeout"

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
		r.summary.Error = fmt.Sprintf("%s of %s expired before every change was made", timeoutPrefix, r.cfg.Timeout)
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
	// Known shortcoming: the names are looked up one after the other; with
	// many names, looking them up side by side would save time (not calls).
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
		Now:         r.now,
		Shifts:      shifts,
		Resources:   resources,
		EmailMap:    r.cfg.EmailMap,
		RoleAccess:  map[string]bool{},
		Revoke:      r.cfg.Revoke,
		GracePeriod: r.cfg.GracePeriod,
		Complete:    true,
		MaxChanges:  r.cfg.MaxChanges,
	}
	var emails []string
	seen := make(map[string]bool)
	for _, s := range shifts {
		if e := r.strongDMEmail(s.Person.Email); e != "" && !seen[e] {
			seen[e] = true
			emails = append(emails, e)
		}
	}
	for _, e := range res.MemberEmails {
		if e = r.strongDMEmail(e); e != "" && !seen[e] {
			seen[e] = true
			emails = append(emails, e)
		}
	}

	// The users and the grants do not depend on each other: read them side
	// by side, under the one bound on concurrent calls. The listing of
	// users is a chain of pages, so it takes one slot; the people it leaves
	// unsettled are looked up after, not nested, to keep that bound.
	grants := make([][]strongdm.Grant, len(resources))
	var accounts map[string]strongdm.Account
	var missing []string
	err := r.each(ctx, 1+len(resources), func(ctx context.Context, i int) error {
		if i == 0 {
			var err error
			accounts, missing, err = r.listUsers(ctx, emails)
			return err
		}
		x := resources[i-1]
		rf, err := strongdm.QuoteFilter("resourceid:?", x.ID)
		if err != nil {
			return err
		}
		if grants[i-1], err = r.sdm.ListGrants(ctx, rf); err != nil {
			return fmt.Errorf("list grants on %s: %w", x.Name, err)
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	more, err := r.accounts(ctx, missing)
	if err != nil {
		return in, err
	}
	maps.Copy(accounts, more)
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

	for i := range resources {
		in.Grants = append(in.Grants, grants[i]...)
	}
	if err := r.roleAccess(ctx, &in); err != nil {
		return in, err
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

// accounts looks up strongDM users by email, one lookup per person: for
// the people listUsers left unsettled.
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
	// oldGone: a Create deleted the grant it named (plan.Action.Grant)
	// and did not put it back.
	oldGone bool
}

// apply performs the writes of the plan with bounded concurrency. One
// failure does not stop the others. The writes of one (account, resource)
// pair run one after the other in plan order, creates and extends before
// revokes: where strongDM keeps one grant per pair, a create may have to
// remove the grant a later row revokes, and a grant whose replacement
// could not be made must stay. Pairs run side by side.
func (r *run) apply(ctx context.Context, actions []plan.Action) []outcome {
	out := make([]outcome, len(actions))
	p := progress{log: r.log, now: r.env.Now, last: r.env.Now()}
	var pairs [][]int
	index := map[string]int{}
	for i, a := range actions {
		if !isWrite(a.Kind) {
			continue
		}
		p.total++
		k := a.Account.ID + "/" + a.Resource.ID
		j, ok := index[k]
		if !ok {
			j = len(pairs)
			index[k] = j
			pairs = append(pairs, nil)
		}
		pairs[j] = append(pairs[j], i)
	}
	for _, is := range pairs {
		// Report order puts revokes after creates only when the emails
		// agree; an email map can make them differ in case or in name.
		slices.SortStableFunc(is, func(x, y int) int {
			return cmp.Compare(btoi(actions[x].Kind == plan.Revoke), btoi(actions[y].Kind == plan.Revoke))
		})
	}
	_ = r.each(ctx, len(pairs), func(ctx context.Context, j int) error {
		gone := map[string]bool{}  // grants of the pair a create deleted
		kept := map[string]error{} // grants whose replacement failed
		for _, i := range pairs[j] {
			a := actions[i]
			switch {
			case a.Kind == plan.Revoke && gone[a.Grant.ID]:
				out[i] = outcome{status: report.Revoked}
			case a.Kind == plan.Revoke && kept[a.Grant.ID] != nil:
				out[i] = outcome{status: report.NotAttempted,
					err: fmt.Errorf("kept, as the grant to replace it could not be made: %w", kept[a.Grant.ID])}
			default:
				out[i] = r.applyOne(ctx, a)
			}
			if a.Kind == plan.Create && a.Grant.ID != "" {
				if out[i].oldGone {
					gone[a.Grant.ID] = true
				} else if out[i].status == report.Failed || out[i].status == report.NotAttempted {
					kept[a.Grant.ID] = out[i].err
				}
			}
			p.step()
		}
		return nil
	})
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isWrite(k plan.Kind) bool { return k == plan.Create || k == plan.Extend || k == plan.Revoke }

// progressEvery is how often a long apply says how far it got: often
// enough to show a slow run is alive, rarely enough to stay readable.
const progressEvery = 5 * time.Second

// progress counts the writes done and logs "done of total" at most once
// every progressEvery, on the run's clock.
type progress struct {
	log         *slog.Logger
	now         func() time.Time
	mu          sync.Mutex // guards the fields below
	done, total int
	last        time.Time
}

func (p *progress) step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if now := p.now(); now.Sub(p.last) >= progressEvery && p.done < p.total {
		p.last = now
		p.log.Info("applying", "done", p.done, "total", p.total)
	}
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
		g, err := r.create(ctx, a, a.Start, a.End)
		if strongdm.IsCode(err, codes.AlreadyExists) && a.Grant.ID != "" {
			// strongDM keeps one grant per pair, and a.Grant holds it.
			return r.makeWay(ctx, a)
		}
		if errors.Is(err, strongdm.ErrExistsAfterRetry) {
			// An attempt that timed out was stored: this run made the grant.
			r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
				"note", "an earlier attempt was stored")
			return outcome{status: report.Created}
		}
		if strongdm.IsCode(err, codes.AlreadyExists) {
			// Made by a concurrent run.
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

// makeWay deletes the grant that stands in the way of a Create (see
// plan.Action.Grant) and creates again. Should that fail, it puts the old
// grant back if it still gives access: it may be the access of the person
// on call, whom a failed write must never cut off.
func (r *run) makeWay(ctx context.Context, a plan.Action) outcome {
	who := r.who(a)
	if err := r.sdm.DeleteGrant(ctx, a.Grant.ID); err != nil && !strongdm.IsCode(err, codes.NotFound) {
		r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
		return outcome{status: report.Failed, err: fmt.Errorf("delete grant %s to make way: %w", a.Grant.ID, err)}
	}
	g, err := r.create(ctx, a, a.Start, a.End)
	if err == nil {
		r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
			"replacing", a.Grant.ID)
		return outcome{status: report.Created, grant: g, oldGone: true}
	}
	if strongdm.IsCode(err, codes.AlreadyExists) {
		// A concurrent run made a grant on the pair in between.
		r.log.Info("already granted", "person", who, "resource", a.Resource.Name)
		return outcome{status: report.AlreadyGranted, oldGone: true}
	}
	o := outcome{status: report.Failed, err: err, oldGone: true}
	if a.Grant.End.IsZero() || a.Grant.End.After(r.now) {
		if _, rerr := r.create(ctx, a, a.Grant.Start, a.Grant.End); rerr != nil {
			o.err = fmt.Errorf("%w (and restoring the old grant failed: %v)", err, rerr)
		} else {
			o.oldGone = false
		}
	}
	r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, o.err)
	return o
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
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			// The caller gives up on the first error: spare the calls.
			<-sem
			break
		}
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
	if strongdm.IsCode(err, codes.Unauthenticated) {
		// strongDM checks only the key pair: name the inputs that hold it.
		err = fmt.Errorf("strongDM rejected the API key; check the inputs sdm-api-access-key and sdm-api-secret-key: %w", err)
	}
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
