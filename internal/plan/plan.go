package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// Plan is what Make decided, in report order: by resource name, then person
// email, then kind.
type Plan struct {
	Actions []Action
	// Writes counts the actions that change strongDM: Create, Extend and
	// Revoke.
	Writes int
	// RevokeSkipped says why revocation did not run although Input.Revoke
	// asked for it; empty when it ran or was not asked for.
	RevokeSkipped string
}

// Reasons for Plan.RevokeSkipped, to follow "nothing was revoked: ".
const (
	SkipIncomplete = "the on-call data is incomplete (a PagerDuty request failed)"
	SkipNobody     = "PagerDuty reported nobody on call"
)

// TooManyChangesError is returned by Make when the plan holds more writes
// than Input.MaxChanges allows.
type TooManyChangesError struct {
	Count int // writes in the plan
	Max   int // Input.MaxChanges
}

// Error says how many changes there are and which input raises the cap.
func (e *TooManyChangesError) Error() string {
	return fmt.Sprintf("plan has %d changes, more than max-changes (%d): nothing was written; "+
		"if that many is expected, set max-changes to %d or more", e.Count, e.Max, e.Count)
}

// forever stands for the end of a grant that does not expire.
var forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

type interval struct{ start, end time.Time }

func (i interval) touches(j interval) bool {
	return !i.start.After(j.end) && !j.start.After(i.end)
}

func grantInterval(g strongdm.Grant) interval {
	if g.End.IsZero() {
		return interval{g.Start, forever}
	}
	return interval{g.Start, g.End}
}

type pair struct{ account, resource string }

// wanted is one shift of one account on one resource.
type wanted struct {
	interval
	shift   *Shift
	account strongdm.Account
}

// Make compares the wanted access of every shift with the existing grants
// and roles, and returns the actions that bring one to the other.
//
// A shift whose pair (account, resource) is reachable through a role, or
// whose interval existing grants cover (alone or together, or one of them
// is permanent), needs nothing. A shift that a temporary grant overlaps or
// touches is extended by the part not covered yet; when that part is split
// (uncovered time both before and after), the Extend asks for the whole
// shift, so a single new grant closes both ends. Any other shift is
// created, unless the pair already holds an unexpired grant that the plan
// keeps: strongDM holds one unexpired grant per pair, so the shift is
// Deferred to a later run.
//
// With in.Revoke, a temporary grant on a managed resource that no access
// request made, held by a member of the configured schedules or policies,
// and that no wanted interval of that account on that resource overlaps or
// touches, is revoked; shifts of suspended accounts still count as wanted,
// so a revocation never races a reinstatement. Nothing is revoked when the
// on-call data is incomplete or nobody is on call: a partial view must
// never lock out the person handling an incident.
//
// When the plan holds more writes than in.MaxChanges (if positive), Make
// returns it with a *TooManyChangesError, so it can still be reported.
func Make(in Input) (Plan, error) {
	p := Plan{Actions: make([]Action, 0, len(in.Shifts)*len(in.Resources))}

	resources := make(map[string]strongdm.Resource, len(in.Resources))
	for _, r := range in.Resources {
		resources[r.ID] = r
	}
	grants := make(map[pair][]strongdm.Grant)
	for _, g := range in.Grants {
		if _, ok := resources[g.ResourceID]; !ok {
			continue
		}
		if !g.End.IsZero() && !g.End.After(in.Now) {
			continue // expired: it gives nothing and blocks nothing
		}
		k := pair{g.AccountID, g.ResourceID}
		grants[k] = append(grants[k], g)
	}
	for _, gs := range grants {
		slices.SortFunc(gs, func(a, b strongdm.Grant) int {
			return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
		})
	}

	// Resolve people to accounts, and gather each pair's wanted intervals.
	want := make(map[pair][]wanted)
	people := make(map[string]strongdm.Account) // account ID → account, for revoke rows
	reported := make(map[string]bool)           // people already given an Unmatched or Suspended row
	var byPerson []Action
	for i := range in.Shifts {
		s := &in.Shifts[i]
		acct, ok := in.Accounts[strongdmEmail(s.Person.Email, in.EmailMap)]
		if !ok || acct.Suspended {
			if a, first := personRow(s, acct, ok, reported); first {
				byPerson = append(byPerson, a)
			} else {
				widen(&byPerson, a)
			}
		}
		if !ok {
			continue
		}
		people[acct.ID] = acct
		for _, r := range in.Resources {
			k := pair{acct.ID, r.ID}
			want[k] = append(want[k], wanted{interval{s.Start, s.End}, s, acct})
		}
	}
	p.Actions = append(p.Actions, byPerson...)

	revoking := make(map[string]bool) // grant IDs this plan revokes
	if in.Revoke {
		switch {
		case !in.Complete:
			p.RevokeSkipped = SkipIncomplete
		case len(in.Shifts) == 0:
			p.RevokeSkipped = SkipNobody
		default:
			p.Actions = append(p.Actions, revokes(in, resources, grants, want, people, revoking)...)
		}
	}

	for k, ws := range want {
		if ws[0].account.Suspended {
			continue
		}
		slices.SortFunc(ws, func(a, b wanted) int { return a.start.Compare(b.start) })
		p.Actions = append(p.Actions, pairActions(in, resources[k.resource], ws, grants[k], revoking)...)
	}

	sortActions(p.Actions)
	for _, a := range p.Actions {
		switch a.Kind {
		case Create, Extend, Revoke:
			p.Writes++
		}
	}
	if in.MaxChanges > 0 && p.Writes > in.MaxChanges {
		return p, &TooManyChangesError{Count: p.Writes, Max: in.MaxChanges}
	}
	return p, nil
}

// strongdmEmail is the lower-cased strongDM email for a PagerDuty email:
// strongDM and PagerDuty compare emails case-insensitively, and people type
// them with any case.
func strongdmEmail(email string, m map[string]string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if mapped, ok := m[e]; ok {
		e = strings.ToLower(strings.TrimSpace(mapped))
	}
	return e
}

// personRow makes the Unmatched or Suspended row of a shift's person, and
// says whether it is the person's first: one row per person, not per shift,
// so the counts are counts of people.
func personRow(s *Shift, acct strongdm.Account, found bool, seen map[string]bool) (Action, bool) {
	a := Action{
		Kind:          Unmatched,
		Person:        s.Person,
		Start:         s.Start,
		End:           s.End,
		Schedules:     s.Schedules,
		Policies:      s.Policies,
		Levels:        s.Levels,
		Permanent:     s.Permanent,
		FinalSchedule: s.FinalSchedule,
	}
	if found {
		a.Kind = Suspended
		a.Account = acct
	}
	key := s.Person.ID + "\x00" + strings.ToLower(s.Person.Email)
	first := !seen[key]
	seen[key] = true
	return a, first
}

// widen stretches the existing row of a's person to span a's shift too.
func widen(rows *[]Action, a Action) {
	for i := range *rows {
		r := &(*rows)[i]
		if r.Person.ID != a.Person.ID || !strings.EqualFold(r.Person.Email, a.Person.Email) {
			continue
		}
		if a.Start.Before(r.Start) {
			r.Start = a.Start
		}
		if a.End.After(r.End) {
			r.End = a.End
		}
		r.Schedules = union(r.Schedules, a.Schedules)
		r.Policies = union(r.Policies, a.Policies)
		r.Levels = union(r.Levels, a.Levels)
		r.Permanent = r.Permanent || a.Permanent
		r.FinalSchedule = r.FinalSchedule || a.FinalSchedule
		return
	}
}

// revokes lists the Revoke actions and records their grant IDs in revoking.
func revokes(in Input, resources map[string]strongdm.Resource, grants map[pair][]strongdm.Grant,
	want map[pair][]wanted, people map[string]strongdm.Account, revoking map[string]bool) []Action {
	var out []Action
	for k, gs := range grants {
		if !in.Members[k.account] {
			continue
		}
		for _, g := range gs {
			if g.End.IsZero() || g.AccessRequestID != "" {
				continue // permanent or requested grants are someone else's decision
			}
			gi := grantInterval(g)
			if slices.ContainsFunc(want[k], func(w wanted) bool { return w.touches(gi) }) {
				continue
			}
			revoking[g.ID] = true
			acct := accountByID(in, people, k.account)
			out = append(out, Action{
				Kind:     Revoke,
				Person:   Person{Name: accountName(acct), Email: acct.Email},
				Account:  acct,
				Resource: resources[k.resource],
				Start:    g.Start,
				End:      g.End,
				Grant:    g,
			})
		}
	}
	return out
}

func accountByID(in Input, people map[string]strongdm.Account, id string) strongdm.Account {
	if a, ok := people[id]; ok {
		return a
	}
	for _, a := range in.Accounts {
		if a.ID == id {
			people[id] = a
			return a
		}
	}
	return strongdm.Account{ID: id}
}

func accountName(a strongdm.Account) string {
	if n := strings.TrimSpace(a.FirstName + " " + a.LastName); n != "" {
		return n
	}
	return a.Name
}

// pairActions decides the actions of one (account, resource) pair; ws are
// its wanted intervals in order of start, gs its unexpired grants.
func pairActions(in Input, r strongdm.Resource, ws []wanted, gs []strongdm.Grant,
	revoking map[string]bool) []Action {
	out := make([]Action, 0, len(ws))
	role := in.RoleAccess[ws[0].account.ID+"/"+r.ID]
	// pending is the unexpired grant the pair will hold besides those that
	// touch the shift at hand; strongDM refuses a second one.
	var pending *strongdm.Grant
	for _, g := range gs {
		if !revoking[g.ID] {
			pending = &g
			break
		}
	}
	var planned bool // this plan already creates a grant on the pair

	for _, w := range ws {
		a := Action{
			Person:        w.shift.Person,
			Account:       w.account,
			Resource:      r,
			Start:         w.start,
			End:           w.end,
			Schedules:     w.shift.Schedules,
			Policies:      w.shift.Policies,
			Levels:        w.shift.Levels,
			Permanent:     w.shift.Permanent,
			FinalSchedule: w.shift.FinalSchedule,
		}
		rem, touching := uncovered(w.interval, gs)
		switch {
		case role:
			a.Kind = Role
		case len(rem) == 0:
			a.Kind = Covered
			a.Grant = coverer(w.interval, touching)
		case len(touching) > 0:
			// A grant that touches a wanted interval is never revoked.
			a.Kind = Extend
			a.Grant = touching[0]
			if len(rem) == 1 {
				a.Start, a.End = rem[0].start, rem[0].end
			}
			planned = true
		case planned || pending != nil:
			a.Kind = Deferred
			if pending != nil {
				a.Grant = *pending
			}
		default:
			a.Kind = Create
			for _, g := range gs {
				if revoking[g.ID] {
					a.Grant = g
					break
				}
			}
			planned = true
		}
		out = append(out, a)
	}
	return out
}

// uncovered returns the parts of w that no grant in gs covers, and the
// grants that overlap or touch w, in order of start.
func uncovered(w interval, gs []strongdm.Grant) (rem []interval, touching []strongdm.Grant) {
	rem = []interval{w}
	for _, g := range gs {
		gi := grantInterval(g)
		if !gi.touches(w) {
			continue
		}
		touching = append(touching, g)
		var next []interval
		for _, r := range rem {
			if !gi.start.Before(r.end) || !gi.end.After(r.start) {
				next = append(next, r)
				continue
			}
			if r.start.Before(gi.start) {
				next = append(next, interval{r.start, gi.start})
			}
			if gi.end.Before(r.end) {
				next = append(next, interval{gi.end, r.end})
			}
		}
		rem = next
	}
	return rem, touching
}

// coverer picks the grant to show for a covered shift: one that covers it
// alone if there is one, else the first of those that cover it together.
func coverer(w interval, gs []strongdm.Grant) strongdm.Grant {
	for _, g := range gs {
		gi := grantInterval(g)
		if !gi.start.After(w.start) && !gi.end.Before(w.end) {
			return g
		}
	}
	return gs[0]
}

// kindOrder ranks kinds within a (resource, person): problems first, then
// writes, then what needs nothing.
var kindOrder = map[Kind]int{
	NoEmail: 0, Unmatched: 1, Suspended: 2, Create: 3, Extend: 4, Revoke: 5,
	Deferred: 6, Covered: 7, Role: 8,
}

// sortActions sorts as in report order. It sorts small keys and then
// permutes, since an Action is large and lower-casing in the comparison
// would allocate on every call.
func sortActions(as []Action) {
	type key struct {
		i     int
		email string
	}
	keys := make([]key, len(as))
	for i := range as {
		keys[i] = key{i, strings.ToLower(as[i].Person.Email)}
	}
	slices.SortFunc(keys, func(x, y key) int {
		a, b := &as[x.i], &as[y.i]
		return cmp.Or(
			strings.Compare(a.Resource.Name, b.Resource.Name),
			strings.Compare(a.Resource.ID, b.Resource.ID),
			strings.Compare(x.email, y.email),
			cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]),
			a.Start.Compare(b.Start),
			strings.Compare(a.Account.ID, b.Account.ID),
			strings.Compare(a.Grant.ID, b.Grant.ID),
		)
	})
	sorted := make([]Action, len(as))
	for i, k := range keys {
		sorted[i] = as[k.i]
	}
	copy(as, sorted)
}
