package plan

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/oncall"
)

// now is the injected "now" of every case (CASES.md).
var now = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

// at is now plus h hours.
func at(h float64) time.Time { return now.Add(time.Duration(h * float64(time.Hour))) }

var (
	alice = Person{ID: "PALICE1", Name: "Alice", Email: "alice@example.com"}
	bob   = Person{ID: "PBOB001", Name: "Bob", Email: "bob@example.com"}
	carol = Person{ID: "PCAROL1", Name: "Carol", Email: "carol@example.com"}
)

// entry is an on-call entry of p on schedule sched at level 1 from hour
// from to hour to.
func entry(p Person, sched string, from, to float64) oncall.Entry {
	return oncall.Entry{
		UserID: p.ID, Name: p.Name, Email: p.Email,
		ScheduleID: sched, PolicyID: "PEP0001", Level: 1,
		Start: at(from), End: at(to),
	}
}

func TestShifts(t *testing.T) {
	t.Parallel()
	lvl := func(e oncall.Entry, policy string, level int) oncall.Entry {
		e.PolicyID, e.Level = policy, level
		return e
	}
	permanent := entry(carol, "", 0, 24)
	permanent.Permanent = true
	final := entry(alice, "PSCHED2", 10, 20)
	final.FinalSchedule, final.PolicyID, final.Level = true, "", 0
	noEmail := entry(bob, "PSCHED1", 5, 29)
	noEmail.Email = ""
	one := []string{"PEP0001"}
	// std is the shift of a single entry(p, "PSCHED1", from, to).
	std := func(p Person, from, to float64) Shift {
		return Shift{Person: p, Start: at(from), End: at(to), Schedules: []string{"PSCHED1"}, Policies: one, Levels: []int{1}}
	}
	// cut is std with the end cut by the window or max-duration.
	cut := func(p Person, from, to float64) Shift {
		s := std(p, from, to)
		s.EndCut = true
		return s
	}
	window := ShiftOptions{WindowEnd: at(24)}
	finalCut := entry(alice, "PSCHED2", 10, 24)
	finalCut.FinalSchedule, finalCut.PolicyID, finalCut.Level = true, "", 0

	tests := []struct {
		name    string
		entries []oncall.Entry
		opts    ShiftOptions
		want    []Shift
	}{
		{
			name:    "single entry",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 29)},
			want:    []Shift{std(alice, 5, 29)},
		},
		{
			name:    "merge overlapping",
			entries: []oncall.Entry{entry(alice, "PSCHED2", 10, 40), lvl(entry(alice, "PSCHED1", 5, 29), "PEP0002", 2)},
			want: []Shift{{Person: alice, Start: at(5), End: at(40), Schedules: []string{"PSCHED1", "PSCHED2"},
				Policies: []string{"PEP0001", "PEP0002"}, Levels: []int{1, 2}}},
		},
		{
			name:    "merge touching",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 10), entry(alice, "PSCHED1", 10, 20)},
			want:    []Shift{std(alice, 5, 20)},
		},
		{
			name:    "gap not merged",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 11, 20), entry(alice, "PSCHED1", 5, 10)},
			want: []Shift{
				std(alice, 5, 10),
				std(alice, 11, 20),
			},
		},
		{
			name:    "grace period closes a gap",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 11, 20), entry(alice, "PSCHED1", 5, 10)},
			opts:    ShiftOptions{GracePeriod: time.Hour},
			want:    []Shift{std(alice, 5, 21)},
		},
		{
			name:    "different people not merged, sorted by email",
			entries: []oncall.Entry{entry(bob, "PSCHED1", 5, 29), entry(alice, "PSCHED1", 5, 29)},
			want: []Shift{
				std(alice, 5, 29),
				std(bob, 5, 29),
			},
		},
		{
			name:    "clip at now",
			entries: []oncall.Entry{entry(alice, "PSCHED1", -3, 5)},
			want:    []Shift{std(alice, 0, 5)},
		},
		{
			name:    "lead time and grace period",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 10)},
			opts:    ShiftOptions{LeadTime: time.Hour, GracePeriod: 30 * time.Minute},
			want:    []Shift{std(alice, 4, 10.5)},
		},
		{
			name:    "lead time before clipping gives access from now",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 0.5, 5)},
			opts:    ShiftOptions{LeadTime: time.Hour},
			want:    []Shift{std(alice, 0, 5)},
		},
		{
			name:    "max duration from the clipped start",
			entries: []oncall.Entry{entry(alice, "PSCHED1", -10, 40)},
			opts:    ShiftOptions{MaxDuration: 12 * time.Hour},
			want:    []Shift{cut(alice, 0, 12)},
		},
		{
			name:    "max duration caps the merged shift",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 1, 10), entry(alice, "PSCHED1", 10, 30)},
			opts:    ShiftOptions{MaxDuration: 12 * time.Hour},
			want:    []Shift{cut(alice, 1, 13)},
		},
		{
			name:    "max duration longer than the shift changes nothing",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 1, 10)},
			opts:    ShiftOptions{MaxDuration: 12 * time.Hour},
			want:    []Shift{std(alice, 1, 10)},
		},
		{
			name:    "past entries dropped, also one ending exactly now",
			entries: []oncall.Entry{entry(alice, "PSCHED1", -5, -1), entry(bob, "PSCHED1", -5, 0)},
			want:    nil,
		},
		{
			name:    "grace period does not revive an entry that has ended",
			entries: []oncall.Entry{entry(alice, "PSCHED1", -5, -1)},
			opts:    ShiftOptions{GracePeriod: 2 * time.Hour},
			want:    nil,
		},
		{
			name:    "entry without email skipped",
			entries: []oncall.Entry{noEmail, entry(alice, "PSCHED1", 5, 29)},
			want:    []Shift{std(alice, 5, 29)},
		},
		{
			name: "C03 same person on three levels and policies",
			entries: []oncall.Entry{
				lvl(entry(alice, "PSCHED1", 5, 29), "PEP0001", 1),
				lvl(entry(alice, "PSCHED1", 5, 29), "PEP0001", 2),
				lvl(entry(alice, "PSCHED1", 5, 29), "PEP0002", 1),
			},
			want: []Shift{{Person: alice, Start: at(5), End: at(29), Schedules: []string{"PSCHED1"},
				Policies: []string{"PEP0001", "PEP0002"}, Levels: []int{1, 2}}},
		},
		{
			name:    "C02 permanent entry",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 29), permanent},
			want: []Shift{
				std(alice, 5, 29),
				{Person: carol, Start: at(0), End: at(24), Policies: one, Levels: []int{1}, Permanent: true, EndCut: true},
			},
		},
		{
			name:    "entry ending at the window's end is cut there",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 24), entry(bob, "PSCHED1", 5, 30), entry(carol, "PSCHED1", 5, 23)},
			opts:    window,
			want:    []Shift{cut(alice, 5, 24), cut(bob, 5, 30), std(carol, 5, 23)},
		},
		{
			name:    "final schedule entry cut at the window's end, merged, keeps the cut",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 12), finalCut},
			opts:    window,
			want: []Shift{{Person: alice, Start: at(5), End: at(24), Schedules: []string{"PSCHED1", "PSCHED2"},
				Policies: one, Levels: []int{1}, FinalSchedule: true, EndCut: true}},
		},
		{
			name:    "final schedule flag kept through a merge",
			entries: []oncall.Entry{entry(alice, "PSCHED1", 5, 12), final},
			want: []Shift{{Person: alice, Start: at(5), End: at(20), Schedules: []string{"PSCHED1", "PSCHED2"},
				Policies: one, Levels: []int{1}, FinalSchedule: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.opts
			o.Now = now
			got := Shifts(tt.entries, o)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Shifts() =\n%s\nwant\n%s", fmtShifts(got), fmtShifts(tt.want))
			}
		})
	}
}

func fmtShifts(ss []Shift) string {
	var s string
	for _, sh := range ss {
		s += fmt.Sprintf("  %s %s..%s sched=%v pol=%v lvl=%v perm=%v final=%v cut=%v\n", sh.Person.Email,
			rel(sh.Start), rel(sh.End), sh.Schedules, sh.Policies, sh.Levels, sh.Permanent, sh.FinalSchedule, sh.EndCut)
	}
	return s
}

// rel shows t as an offset from now, such as "+5h" or "+10h30m0s".
func rel(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	d := t.Sub(now)
	if d%time.Hour == 0 {
		return fmt.Sprintf("%+dh", d/time.Hour)
	}
	return fmt.Sprintf("%+v", d)
}
