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
	// Revoke. A Create behind an earlier grant (Action.Behind) counts too,
	// although strongDM refuses it where it keeps one grant per pair: the
	// max-changes cap bounds what a run may write, and where strongDM
	// allows several grants it does write.
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

// overlaps is true when i and j share more than an instant.
func (i interval) overlaps(j interval) bool {
	return i.start.Before(j.end) && j.start.Before(i.end)
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
// and roles, and returns the actions that bring one to the other. Some
// strongDM organizations keep one unexpired grant per (account, resource)
// pair, others allow several, and nothing tells them apart but strongDM's
// answer to a second grant: the plan works under both, and where they
// differ the applier acts on that answer (see extend and behind).
// The rules, by the names the tests use:
//
//   - role: a pair reachable through a role needs no grant ("already has
//     access (role)").
//   - covered: existing grants cover the shift (alone or together, or one
//     is permanent); nothing to do.
//   - extend: a kept grant overlaps or touches the shift: create the part
//     not covered yet (the whole shift when uncovered time lies on both
//     sides); the applier replaces the grant by one spanning both where
//     strongDM refuses a second grant. Only a grant the tool may touch is
//     extended: temporary and made by no access request. A permanent
//     grant never becomes temporary, and an access request's grant stays
//     the request's: with only such grants touching the shift, the part
//     not covered is a Create, which the applier reports as failed, naming
//     the grant, where strongDM refuses a second grant.
//   - slack: a shift whose end was cut by the window or max-duration
//     (Shift.EndCut) goes on past it, and that edge moves with every run.
//     It counts as covered while its grants reach three quarters of the
//     way from now to that end, so a grant is extended (and, under one
//     grant per pair, replaced) about every quarter of the window or of
//     max-duration rather than at every run. A replacement starts no
//     earlier than now (see Action.Grant), so it never grows past
//     max-duration run after run.
//   - later grant: a shift with no grant touching it, on a pair whose kept
//     grant starts after the shift ends, must not wait for that grant to
//     end: the shift would be over first. A grant the tool may touch is
//     extended back to the shift: the shift is asked for on its own, and
//     where strongDM refuses a second grant the applier replaces the later
//     grant by one spanning both. The access between the two is excess:
//     the price of never leaving the on-call person without access (and
//     that grant may exceed max-duration). A grant the tool may not touch
//     gets a Create, reported as above should strongDM refuse it.
//   - create: any other shift gets a grant for exactly its interval.
//   - behind: a shift with no grant touching it, while every kept grant of
//     the pair ends at or before it starts (the grant of the person's
//     earlier shift), gets a Create with Action.Behind naming the grant
//     that ends last. Where strongDM allows several grants per pair, the
//     shift's grant is made now, on time whatever the gap between the
//     shifts. Where it keeps one, strongDM refuses it while that grant
//     lasts: the applier reports the row deferred, not failed, and the
//     first run at or after that grant's end creates it. There a shift
//     starts on time as long as a run falls between the end of the
//     previous grant and its start, which hourly runs and on-the-hour
//     handovers always give; otherwise it starts up to one run interval
//     late. Nothing better exists under one grant per pair: a grant
//     bridging the gap gives access off call, and replacing the earlier
//     grant cuts the earlier shift. A grace-period of at least the time
//     between runs merges such shifts into one, which closes the gap.
//   - several writes on a pair: a shift that starts after everything this
//     plan already writes on its pair ends is asked for too, behind this
//     run's own grant (Action.Behind names it "(this run's grant)"), so
//     that strongDM decides as above. A shift that overlaps what the plan
//     writes (one account on call as two PagerDuty users) is Deferred and
//     not attempted: a later run extends the grant.
//   - spent grant: a grant ending exactly now gives nothing, but strongDM
//     may still count it; a Create on its pair names it, so the applier
//     deletes it should strongDM refuse the new grant.
//
// With in.Revoke, a grant is revocable when it is temporary, on a managed
// resource, made by no access request and held by a member of the
// configured schedules or policies (in.Members). A revocable grant is kept
// as long as all the access it gives from now on is wanted: inside one of
// the pair's shifts, or within in.GracePeriod from now of a grant that has
// begun. Otherwise:
//
//   - trim: a grant that overlaps a shift is replaced by a grant for that
//     shift (a Create naming it, then a Revoke of it), keeping its start
//     when it is under way and the shift is too, so access continues and
//     stops where the shift ends (an override taking the rest of it).
//   - revoke: a grant that overlaps no shift is revoked; it no longer
//     blocks its pair, so the pair's next shift is created at once.
//   - suspended: the shifts of a suspended account still count as wanted,
//     and its grants that overlap or touch them are left alone, so a
//     revocation never races a reinstatement.
//
// Nothing is revoked or trimmed when the on-call data is incomplete or
// nobody is on call: a partial view must never lock out the person
// handling an incident.
//
// When the plan holds more writes than in.MaxChanges (if positive), Make
// returns it with a *TooManyChangesError, so it can still be reported.
func Make(in Input) (Plan, error) {
	p := Plan{Actions: make([]Action, 0, len(in.Shifts)*len(in.Resources))}

	pl := &planner{in: in, resources: make(map[string]strongdm.Resource, len(in.Resources)),
		grants: make(map[pair][]strongdm.Grant), spent: make(map[pair][]strongdm.Grant)}
	for _, r := range in.Resources {
		pl.resources[r.ID] = r
	}
	for _, g := range in.Grants {
		if _, ok := pl.resources[g.ResourceID]; !ok {
			continue
		}
		k := pair{g.AccountID, g.ResourceID}
		switch {
		case g.End.IsZero() || g.End.After(in.Now):
			pl.grants[k] = append(pl.grants[k], g)
		case g.End.Equal(in.Now):
			pl.spent[k] = append(pl.spent[k], g)
		}
		// Expired before now: it gives nothing and blocks nothing.
	}
	for _, gs := range pl.grants {
		sortGrants(gs)
	}
	for _, gs := range pl.spent {
		sortGrants(gs)
	}

	// Resolve people to accounts, and gather each pair's wanted intervals.
	want := make(map[pair][]wanted)
	people := make(map[string]strongdm.Account) // account ID → account, for revoke rows
	reported := make(map[string]bool)           // people already given an Unmatched or Suspended row
	var byPerson []Action
	for i := range in.Shifts {
		s := &in.Shifts[i]
		acct, ok := in.Accounts[StrongDMEmail(s.Person.Email, in.EmailMap)]
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
	pl.people = people

	if in.Revoke {
		switch {
		case !in.Complete:
			p.RevokeSkipped = SkipIncomplete
		case len(in.Shifts) == 0:
			p.RevokeSkipped = SkipNobody
		default:
			pl.revoke = true
		}
	}

	for k, ws := range want {
		slices.SortFunc(ws, func(a, b wanted) int { return a.start.Compare(b.start) })
		p.Actions = append(p.Actions, pl.pairActions(k, ws)...)
	}
	for k := range pl.grants {
		if _, ok := want[k]; !ok {
			p.Actions = append(p.Actions, pl.pairActions(k, nil)...)
		}
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

func sortGrants(gs []strongdm.Grant) {
	slices.SortFunc(gs, func(a, b strongdm.Grant) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
}

// planner holds what every pair's decision looks at.
type planner struct {
	in        Input
	resources map[string]strongdm.Resource
	grants    map[pair][]strongdm.Grant // unexpired, by start
	spent     map[pair][]strongdm.Grant // ending exactly now
	people    map[string]strongdm.Account
	revoke    bool // in.Revoke, and the on-call data allows it
}

// StrongDMEmail is the lower-cased strongDM email for a PagerDuty email:
// strongDM and PagerDuty compare emails case-insensitively, and people type
// them with any case.
func StrongDMEmail(email string, m map[string]string) string {
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

// revocable says whether revocation may touch g at all.
func (pl *planner) revocable(g strongdm.Grant) bool {
	return pl.revoke && pl.in.Members[g.AccountID] && !g.End.IsZero() && g.AccessRequestID == ""
}

// unwanted says whether g gives access from now on that none of ws wants,
// beyond the grace period of a grant that has begun.
func (pl *planner) unwanted(g strongdm.Grant, ws []wanted) bool {
	now := pl.in.Now
	from := g.Start
	if from.Before(now) {
		from = now.Add(pl.in.GracePeriod)
	}
	if !g.End.After(from) {
		return false
	}
	for _, w := range merged(ws) {
		if !w.start.After(from) && !w.end.Before(g.End) {
			return false
		}
	}
	return true
}

// merged is the union of ws (sorted by start) as disjoint intervals: two
// PagerDuty users mapped to one strongDM account give overlapping shifts.
func merged(ws []wanted) []interval {
	var out []interval
	for _, w := range ws {
		if n := len(out); n > 0 && !w.start.After(out[n-1].end) {
			if w.end.After(out[n-1].end) {
				out[n-1].end = w.end
			}
			continue
		}
		out = append(out, w.interval)
	}
	return out
}

// pairActions decides the actions of one (account, resource) pair; ws are
// its wanted intervals in order of start, possibly none.
func (pl *planner) pairActions(k pair, ws []wanted) []Action {
	r := pl.resources[k.resource]
	gs := pl.grants[k]
	suspended := len(ws) > 0 && ws[0].account.Suspended

	// Sort the grants into those kept as they are and those revoked.
	var keep, bad []strongdm.Grant
	for _, g := range gs {
		if !pl.revocable(g) || !pl.unwanted(g, ws) {
			keep = append(keep, g)
			continue
		}
		if suspended && slices.ContainsFunc(ws, func(w wanted) bool { return w.touches(grantInterval(g)) }) {
			keep = append(keep, g)
			continue
		}
		bad = append(bad, g)
	}
	if len(ws) == 0 || suspended {
		return pl.revokes(k, bad)
	}

	role := pl.in.RoleAccess[k.account+"/"+k.resource]
	out := make([]Action, 0, len(ws)+len(bad))
	var planned bool          // this plan already writes a grant on the pair
	var plannedEnd time.Time  // the latest end of those writes
	used := map[string]bool{} // bad grants already named by a Create
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
		rem, touching := uncovered(w.interval, keep)
		if len(rem) > 0 && w.shift.EndCut && pl.nearlyCovered(w.interval, keep) {
			// Show what the grant covers, not what a later run extends to.
			a.End = rem[0].start
			rem = nil
		}
		ahead := after(keep, w.interval)
		switch {
		case role:
			a.Kind = Role
		case len(rem) == 0:
			a.Kind = Covered
			a.Grant = coverer(w.interval, touching)
		case len(touching) > 0:
			if len(rem) == 1 {
				a.Start, a.End = rem[0].start, rem[0].end
			}
			if g, ok := firstExtendable(touching); ok {
				a.Kind = Extend
				a.Grant = g
			} else {
				// Only grants the tool may not touch (an access request, a
				// permanent grant) give part of the shift: ask for the rest;
				// the applier says so clearly if strongDM refuses it.
				pl.create(&a, k, w, bad, used)
			}
			planned = true
		case planned && w.start.After(plannedEnd):
			// Behind this run's own write: strongDM decides.
			a.Kind = Create
			a.Behind = strongdm.Grant{ID: "(this run's grant)", End: plannedEnd}
		case planned:
			// This shift overlaps what the plan already writes on the
			// pair: one account on call as two PagerDuty users (an
			// email-map). A later run extends the grant.
			// BUG(two-users): until then the account has access only for
			// the first user's shift; planning on the account's merged
			// intervals would close that gap.
			a.Kind = Deferred
		case len(ahead) > 0:
			// A kept grant lies after the shift: waiting for it to end would
			// leave the shift without access. Ask for the shift now; where
			// strongDM refuses a second grant, the applier replaces a grant
			// the tool may touch by one spanning both.
			if g, ok := firstExtendable(ahead); ok {
				a.Kind = Extend
				a.Grant = g
			} else {
				pl.create(&a, k, w, bad, used)
			}
			planned = true
		case len(keep) > 0:
			// Behind: every kept grant ends before the shift starts. Ask
			// for the shift now; only strongDM knows whether it keeps one
			// grant per pair, and the applier reports the row deferred if
			// it does. No grant is named in the way: under one grant per
			// pair the kept grant is the pair's only one.
			a.Kind = Create
			a.Behind = lastEnding(keep)
			planned = true
		default:
			pl.create(&a, k, w, bad, used)
			planned = true
		}
		if (a.Kind == Create || a.Kind == Extend) && a.End.After(plannedEnd) {
			plannedEnd = a.End
		}
		out = append(out, a)
	}
	return append(out, pl.revokes(k, bad)...)
}

// create makes a a Create of w, naming the grant in its way (see
// Action.Grant).
func (pl *planner) create(a *Action, k pair, w wanted, bad []strongdm.Grant, used map[string]bool) {
	a.Kind = Create
	a.Grant = pl.inTheWay(k, w, bad, used)
	if a.Grant.ID != "" && a.Grant.Start.Before(pl.in.Now) &&
		!w.start.After(pl.in.Now) && grantInterval(a.Grant).overlaps(w.interval) {
		// Trim: the grant under way goes on as the new one.
		a.Start = a.Grant.Start
	}
}

// extendable says whether the tool may replace g by a longer grant: only a
// temporary grant made by no access request. A permanent grant must not
// become temporary, and an access request's grant must stay the request's.
func extendable(g strongdm.Grant) bool {
	return !g.End.IsZero() && g.AccessRequestID == ""
}

func firstExtendable(gs []strongdm.Grant) (strongdm.Grant, bool) {
	for _, g := range gs {
		if extendable(g) {
			return g, true
		}
	}
	return strongdm.Grant{}, false
}

// after returns the grants of gs that start after w ends, in order of
// start.
func after(gs []strongdm.Grant, w interval) []strongdm.Grant {
	var out []strongdm.Grant
	for _, g := range gs {
		if g.Start.After(w.end) {
			out = append(out, g)
		}
	}
	return out
}

// lastEnding returns the grant of gs (not empty) that ends last.
func lastEnding(gs []strongdm.Grant) strongdm.Grant {
	last := gs[0]
	for _, g := range gs[1:] {
		if grantInterval(g).end.After(grantInterval(last).end) {
			last = g
		}
	}
	return last
}

// nearlyCovered reports whether grants cover an interval whose end was
// cut (Shift.EndCut) up to three quarters of the way to that end. Such an
// interval ends where it does only because the window or max-duration
// does, and that edge moves with every run: without this slack, every run
// would extend it by the time since the last run, replacing the grant (and
// dropping the person's sessions) every time.
func (pl *planner) nearlyCovered(w interval, gs []strongdm.Grant) bool {
	from := w.start
	if pl.in.Now.After(from) {
		from = pl.in.Now
	}
	if !w.end.After(from) {
		return false
	}
	w.end = from.Add(w.end.Sub(from) * 3 / 4)
	rem, _ := uncovered(w, gs)
	return len(rem) == 0
}

// revokes makes the Revoke rows of a pair's grants.
func (pl *planner) revokes(k pair, gs []strongdm.Grant) []Action {
	var out []Action
	for _, g := range gs {
		acct := pl.account(k.account)
		out = append(out, Action{
			Kind:     Revoke,
			Person:   Person{Name: accountName(acct), Email: acct.Email},
			Account:  acct,
			Resource: pl.resources[k.resource],
			Start:    g.Start,
			End:      g.End,
			Grant:    g,
		})
	}
	return out
}

// inTheWay picks the grant a Create of w names (see Action.Grant): the
// revoked grant overlapping w if any (a trim), else another revoked grant,
// else a spent one; at most one grant stands in the way where strongDM
// keeps one per pair.
func (pl *planner) inTheWay(k pair, w wanted, bad []strongdm.Grant, used map[string]bool) strongdm.Grant {
	for _, pass := range []bool{true, false} {
		for _, g := range bad {
			if !used[g.ID] && (!pass || grantInterval(g).overlaps(w.interval)) {
				used[g.ID] = true
				return g
			}
		}
	}
	for _, g := range pl.spent[k] {
		if g.AccessRequestID == "" {
			return g
		}
	}
	return strongdm.Grant{}
}

func (pl *planner) account(id string) strongdm.Account {
	if a, ok := pl.people[id]; ok {
		return a
	}
	for _, a := range pl.in.Accounts {
		if a.ID == id {
			pl.people[id] = a
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
