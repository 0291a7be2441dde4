package job

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/oncall-access/oncall-access/internal/plan"
	"github.com/oncall-access/oncall-access/internal/report"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/sethvargo/go-githubactions"
	"google.golang.org/grpc/codes"
)

// rows turns the plan and what happened into summary rows.
func (r *run) rows(actions []plan.Action, outcomes []outcome) {
	for i, a := range actions {
		row := report.Row{Action: a, Status: report.Planned(a.Kind, r.cfg.DryRun)}
		if outcomes != nil && outcomes[i].status != "" {
			row.Status = outcomes[i].status
			if outcomes[i].err != nil {
				row.Err = outcomes[i].err.Error()
			}
			if row.Status == report.Deferred && row.Err != "" {
				// Not a failure, but worth a line: when access will come.
				r.summary.Notes = append(r.summary.Notes, fmt.Sprintf("%s on %s is deferred: %s", r.who(a), a.Resource.Name, row.Err))
			}
			if g := outcomes[i].grant; row.Status == report.Replaced && g.ID != "" {
				// The new grant spans the old one and the extension.
				row.Action.Start, row.Action.End = g.Start, g.End
			}
		}
		// The summary has its own section for these; this is the annotation.
		switch a.Kind {
		case plan.Unmatched:
			r.annotate(fmt.Sprintf("%s is on call but no strongDM user has the email %s", a.Person.Name, r.email(a.Person.Email)))
		case plan.Suspended:
			r.annotate(fmt.Sprintf("%s is on call but their strongDM user %s is suspended", a.Person.Name, r.email(a.Person.Email)))
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

// redact decides whether emails are masked. "auto" masks them in Actions
// unless the event says the repository is private: an event that cannot
// be read must not publish the on-call people's emails.
func (r *run) redact() bool {
	switch r.cfg.Redact {
	case "true":
		return true
	case "false":
		return false
	}
	if !r.inActions {
		return false
	}
	ctx, err := r.gha.Context()
	if err != nil || ctx.Event == nil {
		return true
	}
	repo, _ := ctx.Event["repository"].(map[string]any)
	if vis, _ := repo["visibility"].(string); vis != "" {
		return vis == "public"
	}
	private, ok := repo["private"].(bool)
	return !ok || !private
}

// masked is msg with its emails masked when the summary masks them: log
// lines and annotations of a public repository are public too.
func (r *run) masked(msg string) string {
	if r.summary.Redact {
		return report.MaskEmails(msg)
	}
	return msg
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

// warn adds a warning to the summary and the log.
func (r *run) warn(msg string) {
	r.summary.Warnings = append(r.summary.Warnings, msg)
	r.annotate(msg)
}

// annotate shows a warning in the log, as an annotation in Actions.
func (r *run) annotate(msg string) {
	msg = r.masked(msg)
	if r.inActions {
		r.safely("annotation", func() { r.gha.Warningf("%s", msg) })
		return
	}
	r.log.Warn(msg)
}

// errorf logs an error, as an annotation in Actions.
func (r *run) errorf(format string, a ...any) {
	msg := r.masked(fmt.Sprintf(format, a...))
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
	outs := report.Outputs(r.summary)
	if r.env.Getenv("GITHUB_OUTPUT") != "" {
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
	// The same counts as the step outputs.
	r.log.Info("done", "created", outs["created"], "existing", outs["existing"], "revoked", outs["revoked"],
		"unmatched", outs["unmatched"], "failed", outs["failed"], "exit", code)
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

// BadConfig reports a configuration that config.Load refused: as it does
// for everything else, in the log, as error annotations and in the job
// summary when running in Actions, so that the person reading the run sees
// which input to fix. Nothing was asked of either service.
func BadConfig(err error, env Env) {
	env.defaults()
	fmt.Fprintln(env.Stderr, "oncall-access: bad configuration, nothing was changed:")
	fmt.Fprintln(env.Stderr, err)
	if env.Getenv("GITHUB_ACTIONS") != "true" {
		return
	}
	r := &run{env: env, inActions: true, log: slog.New(slog.DiscardHandler)}
	r.gha = githubactions.New(githubactions.WithGetenv(env.Getenv), githubactions.WithWriter(env.Stdout))
	var ps config.Problems
	if !errors.As(err, &ps) {
		ps = config.Problems{{Input: "arguments", Msg: err.Error()}}
	}
	for _, p := range ps {
		r.errorf("%s", p.Error())
	}
	md := report.BadConfig(ps)
	if env.Getenv("GITHUB_STEP_SUMMARY") != "" {
		r.safely("job summary", func() { r.gha.AddStepSummary(md) })
	}
}
