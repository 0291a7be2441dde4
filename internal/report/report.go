// Package report renders the outcome of a run: the markdown job summary and
// the step outputs. It only formats what it is given, so it never sees a
// token or a secret.
package report

import (
	"time"

	"github.com/oncall-access/oncall-access/internal/plan"
)

// Status is what happened to one action of the plan.
type Status string

// The statuses of a row. Dry runs use the "would" forms.
const (
	Created        Status = "created"
	WouldCreate    Status = "would create"
	Extended       Status = "extended"
	WouldExtend    Status = "would extend"
	Replaced       Status = "replaced" // strongDM refused a second grant: the old one was replaced
	Revoked        Status = "revoked"
	WouldRevoke    Status = "would revoke"
	AlreadyGranted Status = "already granted"
	RoleAccess     Status = "already has access (role)"
	Deferred       Status = "deferred" // a later run creates it, see plan.Deferred
	Unmatched      Status = "unmatched"
	SuspendedUser  Status = "suspended"
	NoEmail        Status = "no email"
	Failed         Status = "failed"
	NotAttempted   Status = "not attempted" // the deadline passed or another failure stopped the run
)

// Planned is the status of an action before it is applied: the final one
// for actions that write nothing, the "would" form for writes in a dry
// run, and NotAttempted for writes the applier has yet to make.
func Planned(k plan.Kind, dryRun bool) Status {
	switch k {
	case plan.Create:
		if dryRun {
			return WouldCreate
		}
	case plan.Extend:
		if dryRun {
			return WouldExtend
		}
	case plan.Revoke:
		if dryRun {
			return WouldRevoke
		}
	case plan.Covered:
		return AlreadyGranted
	case plan.Role:
		return RoleAccess
	case plan.Deferred:
		return Deferred
	case plan.Unmatched:
		return Unmatched
	case plan.Suspended:
		return SuspendedUser
	case plan.NoEmail:
		return NoEmail
	}
	return NotAttempted
}

// Row is one action of the plan and what became of it.
type Row struct {
	Action plan.Action
	Status Status // empty: Planned(Action.Kind, Summary.DryRun)
	Err    string // why it failed; the summary shows it for Failed rows
}

// Summary is everything the report shows about one run.
type Summary struct {
	Rows   []Row
	Window struct{ Start, End time.Time } // the on-call window asked of PagerDuty
	DryRun bool
	// TimeZone is the zone times are shown in; nil means UTC.
	TimeZone *time.Location
	// Redact masks emails, in rows and in any text that holds one, for
	// public repositories whose job summaries anyone can read.
	Redact   bool
	Warnings []string
	Notes    []string
	Version  string
	Duration time.Duration
	// Calls counts API calls by kind, such as "PagerDuty" or
	// "strongDM writes".
	Calls map[string]int
	// Error is the run's fatal error, if any, such as an expired deadline.
	Error string
}

// Totals counts the rows of a summary by status. Every row counts once.
type Totals struct {
	Created      int // grants created
	Extended     int // grants extended or replaced
	Existing     int // already granted, or reachable through a role
	Revoked      int
	WouldCreate  int // dry run
	WouldExtend  int // dry run
	WouldRevoke  int // dry run
	Deferred     int
	Unmatched    int // on-call people with no strongDM user
	Suspended    int // on-call people whose strongDM user is suspended
	NoEmail      int // on-call people PagerDuty gave no email for
	Failed       int
	NotAttempted int
}

// Totals counts the summary's rows by status.
func (s Summary) Totals() Totals {
	var t Totals
	for _, r := range s.Rows {
		switch s.status(r) {
		case Created:
			t.Created++
		case Extended, Replaced:
			t.Extended++
		case AlreadyGranted, RoleAccess:
			t.Existing++
		case Revoked:
			t.Revoked++
		case WouldCreate:
			t.WouldCreate++
		case WouldExtend:
			t.WouldExtend++
		case WouldRevoke:
			t.WouldRevoke++
		case Deferred:
			t.Deferred++
		case Unmatched:
			t.Unmatched++
		case SuspendedUser:
			t.Suspended++
		case NoEmail:
			t.NoEmail++
		case Failed:
			t.Failed++
		case NotAttempted:
			t.NotAttempted++
		}
	}
	return t
}

func (s Summary) status(r Row) Status {
	if r.Status != "" {
		return r.Status
	}
	return Planned(r.Action.Kind, s.DryRun)
}

func (s Summary) zone() *time.Location {
	if s.TimeZone == nil {
		return time.UTC
	}
	return s.TimeZone
}
