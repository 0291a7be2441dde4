package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// TestMakeReconcile covers the rules of Make's documentation by name: the
// rows are "rule: case". Revocation is on unless a row says otherwise, as
// the rules that follow the schedule as it changes need it.
func TestMakeReconcile(t *testing.T) {
	t.Parallel()
	requested := grant("g1", "a-0001", 10, 20)
	requested.AccessRequestID = "ar-1"
	spent := grant("g1", "a-0001", -8, 1)
	spent.End = now
	twoUsers := map[string]string{"alice.pd@example.com": "alice@example.com", "alice.ops@example.com": "alice@example.com"}
	aliceOps := Person{ID: "PALICE2", Email: "alice.ops@example.com"}
	permanentFrom5 := grant("g1", "a-0001", 5, 0)
	requestedEarly := grant("g1", "a-0001", -3, 5)
	requestedEarly.AccessRequestID = "ar-1"
	capped := shift(alice, 0, 24)
	capped.EndCut = true // max-duration's end, or the window's
	alicePD := Person{ID: "PALICE3", Email: "alice.pd@example.com"}

	tests := []struct {
		name     string
		shifts   []Shift
		grants   []strongdm.Grant
		noRevoke bool
		partial  bool
		grace    time.Duration
		role     map[string]bool
		emailMap map[string]string
		want     []string
	}{
		{
			name:   "role: already has access (role), no grant",
			shifts: []Shift{shift(alice, 0, 8)},
			role:   map[string]bool{"a-0001/rs-0001": true},
			want:   []string{"role prod-db alice@example.com +0h..+8h"},
		},
		{
			name:   "role: a grant beyond the shift is still revoked",
			shifts: []Shift{shift(alice, 0, 8), shift(bob, 0, 8)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -2, 20)},
			role:   map[string]bool{"a-0001/rs-0001": true},
			want: []string{
				"revoke prod-db alice@example.com -2h..+20h grant=g1",
				"role prod-db alice@example.com +0h..+8h",
				"create prod-db bob@example.com +0h..+8h",
			},
		},
		{
			name:   "extend: a grant inside the shift is extended, not trimmed",
			shifts: []Shift{shift(alice, 0, 8)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -3, 5)},
			want:   []string{"extend prod-db alice@example.com +5h..+8h grant=g1"},
		},
		{
			name:   "extend: a shift's end moves with its grant",
			shifts: []Shift{shift(alice, 0, 24)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -1, 23)},
			want:   []string{"extend prod-db alice@example.com +23h..+24h grant=g1"},
		},
		{
			name:   "extend: permanent on-call waits until its grant covers under three quarters of the window",
			shifts: []Shift{permanent(shift(alice, 0, 24))},
			grants: []strongdm.Grant{grant("g1", "a-0001", -1, 23)},
			want:   []string{"covered prod-db alice@example.com +0h..+23h grant=g1"},
		},
		{
			name:   "extend: permanent on-call whose grant covers under three quarters of the window",
			shifts: []Shift{permanent(shift(alice, 0, 24))},
			grants: []strongdm.Grant{grant("g1", "a-0001", -7, 17)},
			want:   []string{"extend prod-db alice@example.com +17h..+24h grant=g1"},
		},
		{
			name:   "trim: an override takes the middle of the shift",
			shifts: []Shift{shift(alice, 0, 2.5), shift(alice, 4, 9)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -3, 9)},
			want: []string{
				"create prod-db alice@example.com -3h..2h30m0s grant=g1",
				"create prod-db alice@example.com +4h..+9h behind=(this run's grant)",
				"revoke prod-db alice@example.com -3h..+9h grant=g1",
			},
		},
		{
			name:   "trim: an override takes the end of the shift",
			shifts: []Shift{shift(alice, 0, 6)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -3, 9)},
			want: []string{
				"create prod-db alice@example.com -3h..+6h grant=g1",
				"revoke prod-db alice@example.com -3h..+9h grant=g1",
			},
		},
		{
			name:   "trim: an override takes the start of a future shift",
			shifts: []Shift{shift(alice, 4, 12)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 2, 12)},
			want: []string{
				"create prod-db alice@example.com +4h..+12h grant=g1",
				"revoke prod-db alice@example.com +2h..+12h grant=g1",
			},
		},
		{
			name:   "trim: an override from now on stops the grant at once",
			shifts: []Shift{shift(alice, 3, 9), shift(bob, 0, 3)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -3, 9)},
			want: []string{
				"create prod-db alice@example.com +3h..+9h grant=g1",
				"revoke prod-db alice@example.com -3h..+9h grant=g1",
				"create prod-db bob@example.com +0h..+3h",
			},
		},
		{
			name:     "trim: not without revoke",
			shifts:   []Shift{shift(alice, 0, 6)},
			grants:   []strongdm.Grant{grant("g1", "a-0001", -3, 9)},
			noRevoke: true,
			want:     []string{"covered prod-db alice@example.com +0h..+6h grant=g1"},
		},
		{
			name:    "trim: not on incomplete on-call data",
			shifts:  []Shift{shift(alice, 0, 6)},
			grants:  []strongdm.Grant{grant("g1", "a-0001", -3, 9)},
			partial: true,
			want:    []string{"covered prod-db alice@example.com +0h..+6h grant=g1"},
		},
		{
			name:     "trim: one account on call as two PagerDuty users is one shift",
			shifts:   []Shift{shift(alicePD, 0, 5), shift(aliceOps, 4, 10)},
			grants:   []strongdm.Grant{grant("g1", "a-0001", -1, 10)},
			emailMap: twoUsers,
			want: []string{
				"covered prod-db alice.ops@example.com +4h..+10h grant=g1",
				"covered prod-db alice.pd@example.com +0h..+5h grant=g1",
			},
		},
		{
			name:   "grace: a begun grant ending within grace-period is left to expire",
			shifts: []Shift{shift(bob, 0, 8)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -8, 0.25)},
			grace:  15 * time.Minute,
			want:   []string{"create prod-db bob@example.com +0h..+8h"},
		},
		{
			name:   "grace: a begun grant reaching past grace-period is revoked",
			shifts: []Shift{shift(bob, 0, 8)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -8, 1)},
			grace:  15 * time.Minute,
			want: []string{
				"revoke prod-db alice@example.com -8h..+1h grant=g1",
				"create prod-db bob@example.com +0h..+8h",
			},
		},
		{
			name:   "grace: a grant that has not begun gets none",
			shifts: []Shift{shift(alice, 0.1, 8)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 0, 8)},
			grace:  15 * time.Minute,
			want: []string{
				"create prod-db alice@example.com 6m0s..+8h grant=g1",
				"revoke prod-db alice@example.com +0h..+8h grant=g1",
			},
		},
		{
			name:   "grace: the next shift is created behind a grant in its grace-period",
			shifts: []Shift{shift(alice, 20, 30)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -8, 0.25)},
			grace:  15 * time.Minute,
			want:   []string{"create prod-db alice@example.com +20h..+30h behind=g1"},
		},
		{
			name:   "revoke: a swapped day moves the grant to the other person",
			shifts: []Shift{shift(carol, 20, 44)},
			grants: []strongdm.Grant{grant("g1", "a-0002", 20, 44)},
			want: []string{
				"revoke prod-db bob@example.com +20h..+44h grant=g1",
				"create prod-db carol@example.com +20h..+44h",
			},
		},
		{
			name:   "revoke: a removed override's grant goes and unblocks the next shift",
			shifts: []Shift{shift(alice, 20, 30)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 2, 4)},
			want: []string{
				"create prod-db alice@example.com +20h..+30h grant=g1",
				"revoke prod-db alice@example.com +2h..+4h grant=g1",
			},
		},
		{
			name:   "behind: the later shift is created behind the current grant",
			shifts: []Shift{shift(alice, 0, 4), shift(alice, 20, 30)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -4, 4)},
			want: []string{
				"create prod-db alice@example.com +20h..+30h behind=g1",
				"covered prod-db alice@example.com +0h..+4h grant=g1",
			},
		},
		{
			// The gap of the issue: no hourly run falls in +4h10m..+4h40m.
			name:   "behind: a gap shorter than the time between runs",
			shifts: []Shift{shift(alice, -2, 4+10.0/60), shift(alice, 4+40.0/60, 7)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -2, 4+10.0/60)},
			want: []string{
				"create prod-db alice@example.com 4h40m0s..+7h behind=g1",
				"covered prod-db alice@example.com -2h..4h10m0s grant=g1",
			},
		},
		{
			name:   "behind: every later shift is asked for, each behind the one before",
			shifts: []Shift{shift(alice, 0, 4), shift(alice, 6, 8), shift(alice, 10, 12)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -4, 4)},
			want: []string{
				"create prod-db alice@example.com +6h..+8h behind=g1",
				"create prod-db alice@example.com +10h..+12h behind=(this run's grant)",
				"covered prod-db alice@example.com +0h..+4h grant=g1",
			},
		},
		{
			name:     "behind: the grant that ends last is named",
			shifts:   []Shift{shift(alice, 6, 8)},
			grants:   []strongdm.Grant{grant("g0", "a-0001", -4, 3), grant("g1", "a-0001", -1, 2)},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +6h..+8h behind=g0"},
		},
		{
			name:     "behind: an access request's grant before the shift is waited for like any",
			shifts:   []Shift{shift(alice, 25, 30)},
			grants:   []strongdm.Grant{requested},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +25h..+30h behind=g1"},
		},
		{
			name:   "one grant per pair: the run after the grant ended creates the next",
			shifts: []Shift{shift(alice, 1, 5)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -8, -0.5)},
			want:   []string{"create prod-db alice@example.com +1h..+5h"},
		},
		{
			name:     "spent grant: the run at the grant's end names it",
			shifts:   []Shift{shift(alice, 1, 5)},
			grants:   []strongdm.Grant{spent},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +1h..+5h grant=g1"},
		},
		{
			name:     "spent grant: a shift starting now is created, not extended",
			shifts:   []Shift{shift(alice, 0, 5)},
			grants:   []strongdm.Grant{spent},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +0h..+5h grant=g1"},
		},
		{
			name:   "later grant: with revoke on too, a grant still needed is extended, never revoked",
			shifts: []Shift{shift(alice, 2, 4), shift(alice, 10, 20)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 10, 20)},
			want: []string{
				"extend prod-db alice@example.com +2h..+4h grant=g1",
				"covered prod-db alice@example.com +10h..+20h grant=g1",
			},
		},
		{
			name:   "later grant: an access-request grant is not extended",
			shifts: []Shift{shift(alice, 2, 4), shift(alice, 10, 20)},
			grants: []strongdm.Grant{requested},
			want: []string{
				"create prod-db alice@example.com +2h..+4h",
				"covered prod-db alice@example.com +10h..+20h grant=g1",
			},
		},
		{
			name:     "later grant: without revoke the later grant is extended back to the earlier shift",
			shifts:   []Shift{shift(alice, 2, 4), shift(alice, 10, 20)},
			grants:   []strongdm.Grant{grant("g1", "a-0001", 10, 20)},
			noRevoke: true,
			want: []string{
				"extend prod-db alice@example.com +2h..+4h grant=g1",
				"covered prod-db alice@example.com +10h..+20h grant=g1",
			},
		},
		{
			name:     "later grant: a grant starting after the shift is extended, never waited for",
			shifts:   []Shift{shift(alice, 2, 4)},
			grants:   []strongdm.Grant{grant("g1", "a-0001", 10, 20)},
			noRevoke: true,
			want:     []string{"extend prod-db alice@example.com +2h..+4h grant=g1"},
		},
		{
			name:     "later grant: an access request's grant after the shift is left alone, the shift created",
			shifts:   []Shift{shift(alice, 2, 4)},
			grants:   []strongdm.Grant{requested},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +2h..+4h"},
		},
		{
			name:     "later grant: a permanent grant starting after the shift is left alone, the shift created",
			shifts:   []Shift{shift(alice, 2, 4)},
			grants:   []strongdm.Grant{grant("g1", "a-0001", 10, 0)},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +2h..+4h"},
		},
		{
			name:     "later grant: with a grant ending before the shift too, the later one is extended",
			shifts:   []Shift{shift(alice, 2, 4)},
			grants:   []strongdm.Grant{grant("g0", "a-0001", -1, 1), grant("g1", "a-0001", 10, 20)},
			noRevoke: true,
			want:     []string{"extend prod-db alice@example.com +2h..+4h grant=g1"},
		},
		{
			name:     "behind: a grant ending before the shift starts is named, not waited for",
			shifts:   []Shift{shift(alice, 2, 4)},
			grants:   []strongdm.Grant{grant("g0", "a-0001", -1, 1)},
			noRevoke: true,
			want:     []string{"create prod-db alice@example.com +2h..+4h behind=g0"},
		},
		{
			name:   "extend: an access request's grant is never extended; the rest is created",
			shifts: []Shift{shift(alice, 0, 8)},
			grants: []strongdm.Grant{requestedEarly},
			want:   []string{"create prod-db alice@example.com +5h..+8h"},
		},
		{
			name:   "extend: a permanent grant is never extended; the part before it is created",
			shifts: []Shift{shift(alice, 0, 8)},
			grants: []strongdm.Grant{permanentFrom5},
			want:   []string{"create prod-db alice@example.com +0h..+5h"},
		},
		{
			name:     "extend: next to an access request's grant, the temporary grant is the one extended",
			shifts:   []Shift{shift(alice, 0, 8)},
			grants:   []strongdm.Grant{requestedEarly, grant("g2", "a-0001", 6, 9)},
			noRevoke: true,
			want:     []string{"extend prod-db alice@example.com +5h..+6h grant=g2"},
		},
		{
			name:   "extend: a shift cut by max-duration or the window waits like a permanent one",
			shifts: []Shift{capped},
			grants: []strongdm.Grant{grant("g1", "a-0001", -1, 23)},
			want:   []string{"covered prod-db alice@example.com +0h..+23h grant=g1"},
		},
		{
			name:   "extend: a shift cut by max-duration whose grant covers under three quarters",
			shifts: []Shift{capped},
			grants: []strongdm.Grant{grant("g1", "a-0001", -7, 17)},
			want:   []string{"extend prod-db alice@example.com +17h..+24h grant=g1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Make(Input{
				Now:         now,
				Shifts:      tt.shifts,
				Resources:   []strongdm.Resource{prodDB},
				Accounts:    accounts,
				EmailMap:    tt.emailMap,
				Grants:      tt.grants,
				RoleAccess:  tt.role,
				Revoke:      !tt.noRevoke,
				GracePeriod: tt.grace,
				Members:     allMembers,
				Complete:    !tt.partial,
			})
			if err != nil {
				t.Fatalf("Make() error = %v", err)
			}
			var got []string
			writes := 0
			for _, a := range p.Actions {
				got = append(got, row(a))
				if a.Kind == Create || a.Kind == Extend || a.Kind == Revoke {
					writes++
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Make() actions =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if p.Writes != writes {
				t.Errorf("Make() Writes = %d, want %d (the rows' writes)", p.Writes, writes)
			}
		})
	}
}

// permanent is s as Shifts makes a permanent on-call: its end is the
// window's.
func permanent(s Shift) Shift {
	s.Permanent, s.EndCut = true, true
	return s
}
