package report

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oncall-access/oncall-access/internal/plan"
)

// MaxBytes is the most Markdown returns: GitHub refuses a step summary
// larger than 1 MiB.
const MaxBytes = 1 << 20

const (
	maxCell = 200  // runes of a name, email or ID in a cell
	maxText = 1000 // runes of an error, warning or note
	// headroom keeps the summary clear of MaxBytes whatever the fixed
	// parts (headings, cut notes) add.
	headroom = 16 << 10
)

// Markdown renders the job summary: a header with the window and totals,
// the dry-run and fatal-error banners, the table of actions by resource,
// the people who got no access and what to do, failures, warnings, notes
// and a footer. It stays under MaxBytes however many rows there are: when
// they do not fit, rows are cut with a note, and the totals stay complete.
func Markdown(s Summary) string {
	// Sort and split indices, not rows: a Row is large and there may be
	// very many.
	type key struct {
		i               int
		resource, email string
	}
	keys := make([]key, len(s.Rows))
	for i, r := range s.Rows {
		keys[i] = key{i, r.Action.Resource.Name, strings.ToLower(r.Action.Person.Email)}
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		return cmp.Or(strings.Compare(a.resource, b.resource), strings.Compare(a.email, b.email))
	})
	var tableRows, peopleRows, failedRows []int
	var notAttempted int
	for _, k := range keys {
		r := &s.Rows[k.i]
		switch r.Action.Kind {
		case plan.Unmatched, plan.Suspended, plan.NoEmail:
			peopleRows = append(peopleRows, k.i)
		default:
			tableRows = append(tableRows, k.i)
		}
		switch s.status(*r) {
		case Failed:
			failedRows = append(failedRows, k.i)
		case NotAttempted:
			// With a reason, it is listed like a failure; without one, the
			// run stopped before it, and a count says so.
			if r.Err != "" {
				failedRows = append(failedRows, k.i)
			} else {
				notAttempted++
			}
		}
	}

	head := s.header()
	foot := s.footer()

	// Fill the budget in order of importance (what someone must act on
	// first), rendering items only while they fit, so a huge run costs no
	// more than a summary's worth of formatting; then write the sections
	// in reading order. The lists before the table take at most half of
	// what is left each, so the table always keeps some room.
	var table, people, failures, warnings, notes section
	budget := MaxBytes - headroom - len(head) - len(foot)
	failures.fill(&budget, 2, len(failedRows), func(i int) string { return s.failureItem(s.Rows[failedRows[i]]) })
	people.fill(&budget, 2, len(peopleRows), func(i int) string { return s.personItem(s.Rows[peopleRows[i]]) })
	warnings.fill(&budget, 2, len(s.Warnings), func(i int) string { return "- " + s.text(s.Warnings[i]) })
	table.fill(&budget, 1, len(tableRows), func(i int) string { return s.tableRow(s.Rows[tableRows[i]]) })
	notes.fill(&budget, 1, len(s.Notes), func(i int) string { return "- " + s.text(s.Notes[i]) })

	var b strings.Builder
	b.WriteString(head)
	if table.total > 0 {
		b.WriteString("\n### Access\n\n")
		b.WriteString("| person | schedule | level | resource | from | until | status |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
		table.write(&b, "rows")
	}
	if people.total > 0 {
		b.WriteString("\n### On call without access\n\n")
		b.WriteString("These people are on call but got no access; each line says what to do about it.\n\n")
		people.write(&b, "people")
	}
	if failures.total > 0 || notAttempted > 0 {
		b.WriteString("\n### Failures\n\n")
		failures.write(&b, "failures")
		if notAttempted > 0 {
			fmt.Fprintf(&b, "\n%d %s not attempted: the run stopped first.\n",
				notAttempted, plural(notAttempted, "action was", "actions were"))
		}
	}
	if warnings.total > 0 {
		b.WriteString("\n### Warnings\n\n")
		warnings.write(&b, "warnings")
	}
	if notes.total > 0 {
		b.WriteString("\n### Notes\n\n")
		notes.write(&b, "notes")
	}
	b.WriteString(foot)
	return b.String()
}

func (s Summary) header() string {
	var b strings.Builder
	b.WriteString("## On-call access\n\n")
	if !s.Window.Start.IsZero() {
		fmt.Fprintf(&b, "**Window:** %s → %s\n\n", s.when(s.Window.Start), s.when(s.Window.End))
	}
	b.WriteString(s.totalsLine() + "\n")
	if s.DryRun {
		b.WriteString("\n> [!NOTE]\n> **Dry run:** nothing was written to strongDM; " +
			"the rows say what a real run would do.\n")
	}
	if s.Error != "" {
		fmt.Fprintf(&b, "\n> [!CAUTION]\n> **The run stopped early:** %s\n", s.text(s.Error))
	}
	return b.String()
}

// totalsLine always shows the main counts and adds the others when not
// zero, so a quiet run reads in one glance.
func (s Summary) totalsLine() string {
	t := s.Totals()
	type count struct {
		n      int
		label  string
		always bool
	}
	counts := []count{
		{t.Created, "created", !s.DryRun},
		{t.WouldCreate, "would create", s.DryRun},
		{t.Extended, "extended", false},
		{t.WouldExtend, "would extend", false},
		{t.Existing, "already had access", true},
		{t.Revoked, "revoked", !s.DryRun},
		{t.WouldRevoke, "would revoke", s.DryRun},
		{t.Deferred, "deferred", false},
		{t.Unmatched, "unmatched", true},
		{t.Suspended, "suspended", false},
		{t.NoEmail, "no email", false},
		{t.Failed, "failed", true},
		{t.NotAttempted, "not attempted", false},
	}
	var parts []string
	for _, c := range counts {
		if c.always || c.n > 0 {
			parts = append(parts, fmt.Sprintf("**%d** %s", c.n, c.label))
		}
	}
	return strings.Join(parts, " · ")
}

func (s Summary) footer() string {
	var parts []string
	if s.Version != "" {
		parts = append(parts, "oncall-access "+s.cell(s.Version))
	}
	if s.Duration > 0 {
		parts = append(parts, "took "+s.Duration.Round(time.Millisecond).String())
	}
	if len(s.Calls) > 0 {
		var calls []string
		for _, k := range slices.Sorted(maps.Keys(s.Calls)) {
			calls = append(calls, fmt.Sprintf("%s %d", s.cell(k), s.Calls[k]))
		}
		parts = append(parts, "API calls: "+strings.Join(calls, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n---\n\n<sub>" + strings.Join(parts, " · ") + "</sub>\n"
}

func (s Summary) tableRow(r Row) string {
	a := r.Action
	return "| " + strings.Join([]string{
		s.person(a.Person),
		s.source(a),
		levels(a.Levels),
		s.cell(a.Resource.Name),
		s.when(a.Start),
		s.until(a),
		string(s.status(r)),
	}, " | ") + " |"
}

func (s Summary) personItem(r Row) string {
	a := r.Action
	var why string
	switch a.Kind {
	case plan.Unmatched:
		why = "no strongDM user has this email. Create one, or add an `email-map` line " +
			"`pagerduty-email = strongdm-email` if their strongDM email differs."
	case plan.Suspended:
		why = "their strongDM user is suspended. Reactivate it if they should have access while on call."
	default:
		why = "PagerDuty gave no email (a deleted or deactivated user?). " +
			"Check who is on this schedule in PagerDuty."
	}
	item := fmt.Sprintf("- %s, on call %s → %s", s.person(a.Person), s.when(a.Start), s.when(a.End))
	if src := s.source(a); src != "" {
		item += " (" + src + ")"
	}
	return item + ": " + why
}

func (s Summary) failureItem(r Row) string {
	a := r.Action
	msg := r.Err
	if msg == "" {
		msg = "no reason given"
	}
	what := string(a.Kind)
	if r.Status == NotAttempted {
		what += ", not attempted"
	}
	return fmt.Sprintf("- %s on %s (%s): %s", s.person(a.Person), s.cell(a.Resource.Name), what, s.text(msg))
}

// person shows a name and email; either may be missing.
func (s Summary) person(p plan.Person) string {
	email := p.Email
	if s.Redact {
		email = MaskEmail(email)
	}
	name, email := s.cell(p.Name), s.cell(email)
	switch {
	case name == "":
		return email
	case email == "":
		return name
	}
	return name + " (" + email + ")"
}

// source says where a row's shift came from: schedules, or for a person
// targeted directly by an escalation policy, the whole window.
func (s Summary) source(a plan.Action) string {
	var parts []string
	if len(a.Schedules) > 0 {
		parts = append(parts, s.cell(strings.Join(a.Schedules, ", ")))
	}
	if a.Permanent {
		p := "whole window (escalation policy"
		if len(a.Policies) > 0 {
			p += " " + s.cell(strings.Join(a.Policies, ", "))
		}
		parts = append(parts, p+")")
	}
	if a.FinalSchedule {
		parts = append(parts, "final schedule")
	}
	return strings.Join(parts, "; ")
}

func levels(ls []int) string {
	ss := make([]string, len(ls))
	for i, l := range ls {
		ss[i] = strconv.Itoa(l)
	}
	return strings.Join(ss, ", ")
}

func (s Summary) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(s.zone()).Format("2006-01-02 15:04 MST")
}

// until shows a row's end; a grant with no end is permanent.
func (s Summary) until(a plan.Action) string {
	if a.End.IsZero() && a.Kind == plan.Revoke {
		return "never"
	}
	return s.when(a.End)
}

// cell makes s safe inside a markdown table cell or list item: no line
// breaks, no character that ends a cell or starts markup, and bounded.
func (s Summary) cell(v string) string { return escape(v, maxCell) }

// text is cell for longer free text, with emails masked when redacting:
// errors and warnings may quote an email.
func (s Summary) text(v string) string {
	if s.Redact {
		v = MaskEmails(v)
	}
	return escape(v, maxText)
}

// MaskEmails masks, with MaskEmail, every email address in free text such
// as an error or a warning, which may quote one.
func MaskEmails(text string) string {
	return emailPattern.ReplaceAllStringFunc(text, MaskEmail)
}

var emailPattern = regexp.MustCompile(`[^\s<>()\[\]"',;:|` + "`" + `]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

func escape(v string, limit int) string {
	if utf8.RuneCountInString(v) > limit {
		r := []rune(v)
		v = string(r[:limit]) + "…"
	}
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			// other control characters say nothing to a reader
		case strings.ContainsRune("\\`*_[]<>|~", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// section is the lines of one part of the summary that fit the budget.
type section struct {
	lines []string
	total int // lines there would be without the budget
}

// fill renders items 0 to n-1 while they fit in 1/share of budget, and
// takes their size from it. It stops at the first item that does not fit,
// so the lines shown are always the first ones.
func (sec *section) fill(budget *int, share, n int, render func(i int) string) {
	sec.total = n
	limit := *budget / share
	for i := range n {
		line := render(i)
		if len(line)+1 > limit {
			break
		}
		limit -= len(line) + 1
		*budget -= len(line) + 1
		sec.lines = append(sec.lines, line)
	}
}

func (sec *section) write(b *strings.Builder, what string) {
	for _, l := range sec.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if cut := sec.total - len(sec.lines); cut > 0 {
		fmt.Fprintf(b, "\n_…and %d more %s not shown: a job summary is limited to 1 MiB. "+
			"The totals above count them all, and the `plan` output lists every action._\n", cut, what)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
