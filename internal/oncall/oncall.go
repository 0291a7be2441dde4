// Package oncall asks PagerDuty who is on call in a window of time.
package oncall

import "time"

// Query says whose on-call shifts to fetch and for which window.
type Query struct {
	Schedules []string // PagerDuty schedule IDs
	Policies  []string // PagerDuty escalation policy IDs
	Levels    []int    // escalation levels to keep; empty keeps all
	Since     time.Time
	Until     time.Time
	// Members asks for Result.Members too. It costs one GET /schedules/{id}
	// per configured schedule, so only a run that may revoke asks for it.
	Members bool
}

// Entry is one on-call stretch of one person, as PagerDuty reports it.
type Entry struct {
	UserID     string // PagerDuty user ID
	Name       string
	Email      string // empty for a deleted user
	ScheduleID string // empty for a user targeted directly by a policy
	PolicyID   string
	Level      int
	Start, End time.Time // never zero: an open entry spans the query window
	// Permanent is set when PagerDuty gave no start or end: the person is
	// targeted directly by an escalation policy and on call all window long.
	Permanent bool
	// FinalSchedule is set when the entry comes from a schedule's rendered
	// final schedule because no escalation policy uses that schedule.
	FinalSchedule bool
}

// Warning is something about the on-call data a person should look at; the
// run goes on.
type Warning struct {
	Subject string // the user or schedule ID concerned
	Message string
}

// Result is everything PagerDuty said for one query.
type Result struct {
	Entries  []Entry
	Warnings []Warning
	// NoEmail are the people on call whose PagerDuty user has no email
	// (deleted or deactivated), once each: they cannot be given access.
	NoEmail []Entry
	// Members are the PagerDuty user IDs that belong to the configured
	// schedules and policies, on call now or not. Revocation only touches
	// their grants.
	Members []string
	// MemberEmails are the emails of Members, sorted, for matching
	// strongDM accounts; members without email (deleted) are left out.
	// Filled only when Query.Members is set.
	MemberEmails []string
}
