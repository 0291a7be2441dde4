// Package plan decides, without any I/O, which grants to create, extend or
// revoke so that the people on call reach the managed resources for exactly
// their shifts.
package plan

import (
	"time"

	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// Person is someone PagerDuty named as on call.
type Person struct {
	ID    string // PagerDuty user ID
	Name  string
	Email string
}

// Shift is one merged interval during which a person should have access,
// already clipped and widened by lead time and grace period.
type Shift struct {
	Person        Person
	Start, End    time.Time
	Schedules     []string // schedule IDs it came from, sorted, no duplicates
	Policies      []string // escalation policy IDs it came from
	Levels        []int    // escalation levels it came from
	Permanent     bool     // came (at least partly) from a direct policy target
	FinalSchedule bool     // came (at least partly) from a rendered final schedule
	// EndCut is set when End is where the query window or max-duration
	// cut the shift, not where the on-call ends: the edge moves with every
	// run, so the planner gives such an end some slack (see Make).
	EndCut bool
}

// ShiftOptions shape on-call entries into shifts.
type ShiftOptions struct {
	Now         time.Time     // shifts start no earlier than this
	LeadTime    time.Duration // access starts this long before a shift
	GracePeriod time.Duration // and ends this long after it
	MaxDuration time.Duration // zero: no cap
	// WindowEnd is the end of the on-call query (its Until): an entry
	// ending at or after it was cut there. Zero: only permanent entries
	// count as cut.
	WindowEnd time.Time
}

// Kind is what the plan does, or found it did not need to do, for one
// (person, resource) pair.
type Kind string

const (
	Create    Kind = "create"    // no access yet: create a grant
	Extend    Kind = "extend"    // a temporary grant covers part: add the rest
	Revoke    Kind = "revoke"    // a managed grant nobody on call needs
	Covered   Kind = "covered"   // an existing grant already covers the shift
	Role      Kind = "role"      // the person reaches the resource through a role
	Unmatched Kind = "unmatched" // no strongDM user has the person's email
	Suspended Kind = "suspended" // the strongDM user is suspended
	NoEmail   Kind = "no-email"  // PagerDuty gave no email (a deleted user)
	// Deferred: this plan already writes the pair's grant, for an earlier
	// shift; a later run creates this one (see Make, "one grant per
	// pair"). Nothing is attempted. A Create behind an earlier grant
	// (Action.Behind) that strongDM refuses is reported deferred too.
	Deferred Kind = "deferred"
)

// Action is one row of the plan.
type Action struct {
	Kind     Kind
	Person   Person
	Account  strongdm.Account  // empty for Unmatched and NoEmail
	Resource strongdm.Resource // empty for Unmatched, Suspended and NoEmail
	// Start and End are the access the action gives (Create, Extend) or the
	// shift that is already covered (Covered, Role); for Revoke, the grant's.
	Start, End time.Time
	// Grant is the existing grant an Extend adds to, or the one Revoke
	// deletes, or the one that covers a Covered shift. An Extend's Grant
	// is always temporary and made by no access request. Should strongDM
	// refuse the second grant of an Extend, the applier replaces Grant by
	// one grant from the earlier of the two starts (but not before now) to
	// the later of the two ends. Grant touches the shift, so that grant has
	// no gap, unless it lies after the shift (see Make, "later grant"): the
	// replacement then also spans the time between them.
	// On a Create it is the grant on the same pair that stands in its way
	// where strongDM keeps one grant per pair: one this plan revokes (a
	// Revoke row follows), or one that ends right now and gives nothing.
	// The applier creates first and, only if strongDM refuses, deletes
	// Grant and creates again, putting Grant back if that fails.
	Grant strongdm.Grant
	// Behind is set on a Create of a shift that starts at or after every
	// unexpired grant of the pair ends (see Make, "behind"): the one that
	// ends last, that of the person's earlier shift. Where strongDM keeps
	// one grant per pair it refuses the Create while Behind lasts; the
	// applier then reports the row deferred, and the first run at or
	// after Behind's end creates the grant. A Create with Behind names no
	// Grant: under one grant per pair, Behind is the pair's only grant.
	Behind        strongdm.Grant
	Schedules     []string
	Policies      []string
	Levels        []int
	Permanent     bool
	FinalSchedule bool
}

// Input is everything the planner looks at.
type Input struct {
	Now       time.Time
	Shifts    []Shift
	Resources []strongdm.Resource // the managed resources
	// Accounts maps a lower-cased email (after the email map) to its
	// strongDM user account.
	Accounts map[string]strongdm.Account
	// EmailMap maps a lower-cased PagerDuty email to a strongDM email.
	EmailMap map[string]string
	// Grants are the existing grants on the managed resources.
	Grants []strongdm.Grant
	// RoleAccess holds "accountID/resourceID" for every pair reachable
	// through a role.
	RoleAccess map[string]bool

	Revoke bool
	// GracePeriod is the grace-period input: a revocation never cuts into
	// the first GracePeriod from now of a grant that has begun, as that may
	// be the grace after a shift PagerDuty no longer lists.
	GracePeriod time.Duration
	// Members are the strongDM account IDs of every member of the
	// configured schedules and policies; only their grants are revoked.
	Members map[string]bool
	// Complete is false when any PagerDuty call failed: nothing is revoked.
	Complete   bool
	MaxChanges int // zero: no cap
}
