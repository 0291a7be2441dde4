package plan

import (
	"cmp"
	"slices"
	"strings"

	"github.com/oncall-access/oncall-access/internal/oncall"
)

// Shifts turns PagerDuty on-call entries into the intervals each person
// should have access, sorted by email, then PagerDuty user ID, then start.
//
// Each entry is first widened by o.LeadTime before and o.GracePeriod after,
// then clipped to start no earlier than o.Now: lead time is there so access
// is ready when the shift begins, so a shift starting in 30 minutes with an
// hour of lead time gives access from now. Intervals of the same person
// (keyed by PagerDuty user ID) that overlap or touch are then merged, so
// several schedules, levels, layers and overrides give one shift. Last,
// o.MaxDuration caps each merged shift, measured from its clipped start, so
// no single grant is longer than max-duration; later runs carry access
// forward as the start moves with now.
//
// A shift whose end is the window's (an entry ending at or after
// o.WindowEnd) or the cap's is marked EndCut.
//
// Entries ending at or before o.Now are dropped, and so are entries with no
// email (a deleted PagerDuty user): the caller warns about those.
func Shifts(entries []oncall.Entry, o ShiftOptions) []Shift {
	byPerson := make(map[string][]Shift)
	for _, e := range entries {
		if e.Email == "" || !e.End.After(o.Now) {
			continue
		}
		start := e.Start.Add(-o.LeadTime)
		if start.Before(o.Now) {
			start = o.Now
		}
		end := e.End.Add(o.GracePeriod)
		if !end.After(start) {
			continue // a malformed entry ending before it starts
		}
		s := Shift{
			Person:        Person{ID: e.UserID, Name: e.Name, Email: e.Email},
			Start:         start,
			End:           end,
			Permanent:     e.Permanent,
			FinalSchedule: e.FinalSchedule,
			// A permanent entry spans the window by definition.
			EndCut: e.Permanent || !o.WindowEnd.IsZero() && !e.End.Before(o.WindowEnd),
		}
		if e.ScheduleID != "" {
			s.Schedules = []string{e.ScheduleID}
		}
		if e.PolicyID != "" {
			s.Policies = []string{e.PolicyID}
		}
		if e.Level > 0 {
			s.Levels = []int{e.Level}
		}
		key := e.UserID
		if key == "" {
			key = "email:" + strings.ToLower(e.Email)
		}
		byPerson[key] = append(byPerson[key], s)
	}

	var out []Shift
	for _, ss := range byPerson {
		slices.SortStableFunc(ss, func(a, b Shift) int { return a.Start.Compare(b.Start) })
		cur := ss[0]
		for _, s := range ss[1:] {
			if !s.Start.After(cur.End) {
				cur = mergeShifts(cur, s)
				continue
			}
			out = append(out, capShift(cur, o))
			cur = s
		}
		out = append(out, capShift(cur, o))
	}
	slices.SortFunc(out, func(a, b Shift) int {
		return cmp.Or(
			strings.Compare(strings.ToLower(a.Person.Email), strings.ToLower(b.Person.Email)),
			strings.Compare(a.Person.ID, b.Person.ID),
			a.Start.Compare(b.Start),
		)
	})
	return out
}

// mergeShifts joins b into a; a starts no later than b and they touch.
func mergeShifts(a, b Shift) Shift {
	switch {
	case b.End.After(a.End):
		a.End, a.EndCut = b.End, b.EndCut
	case b.End.Equal(a.End):
		a.EndCut = a.EndCut || b.EndCut
	}
	a.Schedules = union(a.Schedules, b.Schedules)
	a.Policies = union(a.Policies, b.Policies)
	a.Levels = union(a.Levels, b.Levels)
	a.Permanent = a.Permanent || b.Permanent
	a.FinalSchedule = a.FinalSchedule || b.FinalSchedule
	return a
}

func capShift(s Shift, o ShiftOptions) Shift {
	if o.MaxDuration > 0 && s.End.Sub(s.Start) > o.MaxDuration {
		s.End = s.Start.Add(o.MaxDuration)
		s.EndCut = true
	}
	return s
}

// union returns the sorted, duplicate-free union of a and b in a new slice,
// so merged shifts never share a backing array.
func union[T cmp.Ordered](a, b []T) []T {
	if len(a)+len(b) == 0 {
		return nil
	}
	u := make([]T, 0, len(a)+len(b))
	u = append(append(u, a...), b...)
	slices.Sort(u)
	return slices.Compact(u)
}
