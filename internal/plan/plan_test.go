package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/oncall-access/oncall-access/internal/strongdm"
)

var (
	prodDB  = strongdm.Resource{ID: "rs-0001", Name: "prod-db", Type: "postgres"}
	stageDB = strongdm.Resource{ID: "rs-0002", Name: "stage-db", Type: "postgres"}

	accounts = map[string]strongdm.Account{
		"alice@example.com":       {ID: "a-0001", Kind: "user", Email: "alice@example.com", FirstName: "Alice"},
		"bob@example.com":         {ID: "a-0002", Kind: "user", Email: "bob@example.com", FirstName: "Bob"},
		"carol@example.com":       {ID: "a-0003", Kind: "user", Email: "carol@example.com", FirstName: "Carol"},
		"alice.smith@example.com": {ID: "a-0009", Kind: "user", Email: "alice.smith@example.com"},
	}
	allMembers = map[string]bool{"a-0001": true, "a-0002": true, "a-0003": true}
)

// shift is a shift of p from hour from to hour to.
func shift(p Person, from, to float64) Shift {
	return Shift{Person: p, Start: at(from), End: at(to), Schedules: []string{"PSCHED1"}, Levels: []int{1}}
}

// grant is grant id of account on rs-0001 from hour from to hour to; to 0
// makes it permanent.
func grant(id, account string, from, to float64) strongdm.Grant {
	g := strongdm.Grant{ID: id, AccountID: account, ResourceID: prodDB.ID, Start: at(from)}
	if to != 0 {
		g.End = at(to)
	}
	return g
}

// row shows an action in one line for comparison: kind, resource, email,
// interval, grant.
func row(a Action) string {
	s := fmt.Sprintf("%s %s %s %s..%s", a.Kind, a.Resource.Name, a.Person.Email, rel(a.Start), rel(a.End))
	if a.Grant.ID != "" {
		s += " grant=" + a.Grant.ID
	}
	if a.Behind.ID != "" {
		s += " behind=" + a.Behind.ID
	}
	return s
}

func TestMake(t *testing.T) {
	t.Parallel()
	suspended := map[string]strongdm.Account{
		"alice@example.com": {ID: "a-0001", Kind: "user", Email: "alice@example.com", Suspended: true},
	}
	requested := grant("g2", "a-0002", -2, 10)
	requested.AccessRequestID = "ar-1"
	unmanaged := grant("g2", "a-0002", -2, 10)
	unmanaged.ResourceID = "rs-9999"
	c03 := Shifts([]oncall.Entry{
		{UserID: alice.ID, Email: alice.Email, PolicyID: "PEP0001", Level: 1, Start: at(5), End: at(29)},
		{UserID: alice.ID, Email: alice.Email, PolicyID: "PEP0001", Level: 2, Start: at(5), End: at(29)},
		{UserID: alice.ID, Email: alice.Email, PolicyID: "PEP0002", Level: 1, Start: at(5), End: at(29)},
	}, ShiftOptions{Now: now})
	endingNow := grant("g1", "a-0001", -10, 1)
	endingNow.End = now
	permanent := shift(carol, 0, 24)
	permanent.Permanent = true

	tests := []struct {
		name      string
		shifts    []Shift
		grants    []strongdm.Grant
		resources []strongdm.Resource // default prod-db
		accounts  map[string]strongdm.Account
		emailMap  map[string]string
		role      map[string]bool
		revoke    bool
		members   map[string]bool // default allMembers
		partial   bool            // Input.Complete false
		max       int
		want      []string
		skipped   string
		writes    int
	}{
		{
			name:   "not covered creates",
			shifts: []Shift{shift(alice, 5, 29)},
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "C03 three levels give one create",
			shifts: c03,
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "C02 permanent on-call gets the whole window",
			shifts: []Shift{shift(alice, 5, 29), permanent},
			want: []string{
				"create prod-db alice@example.com +5h..+29h",
				"create prod-db carol@example.com +0h..+24h",
			},
			writes: 2,
		},
		{
			name:   "C10 same grant covers",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 5, 29)},
			want:   []string{"covered prod-db alice@example.com +5h..+29h grant=g1"},
		},
		{
			name:   "longer grant covers",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -1, 48)},
			want:   []string{"covered prod-db alice@example.com +5h..+29h grant=g1"},
		},
		{
			name:   "permanent grant covers",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -100, 0)},
			want:   []string{"covered prod-db alice@example.com +5h..+29h grant=g1"},
		},
		{
			name:   "role covers",
			shifts: []Shift{shift(alice, 5, 29)},
			role:   map[string]bool{"a-0001/rs-0001": true},
			want:   []string{"role prod-db alice@example.com +5h..+29h"},
		},
		{
			name:   "partly covered at the start extends by the rest",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 5, 17)},
			want:   []string{"extend prod-db alice@example.com +17h..+29h grant=g1"},
			writes: 1,
		},
		{
			name:   "partly covered at the end extends by the start",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 10, 29)},
			want:   []string{"extend prod-db alice@example.com +5h..+10h grant=g1"},
			writes: 1,
		},
		{
			name:   "covered in the middle extends by the whole shift",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 10, 20)},
			want:   []string{"extend prod-db alice@example.com +5h..+29h grant=g1"},
			writes: 1,
		},
		{
			name:   "grant ending where the shift starts is extended",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 0, 5)},
			want:   []string{"extend prod-db alice@example.com +5h..+29h grant=g1"},
			writes: 1,
		},
		{
			name:   "two grants together cover",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g2", "a-0001", 15, 29), grant("g1", "a-0001", 5, 15)},
			want:   []string{"covered prod-db alice@example.com +5h..+29h grant=g1"},
		},
		{
			name:   "two grants with a gap extend by the gap",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 5, 10), grant("g2", "a-0001", 12, 29)},
			want:   []string{"extend prod-db alice@example.com +10h..+12h grant=g1"},
			writes: 1,
		},
		{
			name:   "spent grant ending now gives nothing and is named by the create",
			shifts: []Shift{shift(alice, 0, 29)},
			grants: []strongdm.Grant{endingNow},
			revoke: true,
			want:   []string{"create prod-db alice@example.com +0h..+29h grant=g1"},
			writes: 1,
		},
		{
			name:   "another person's grant does not cover",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g2", "a-0002", 5, 29)},
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "unmatched person gets one row",
			shifts: []Shift{shift(Person{ID: "PDAVE01", Email: "dave@example.com"}, 5, 10), shift(Person{ID: "PDAVE01", Email: "dave@example.com"}, 20, 29)},
			want:   []string{"unmatched  dave@example.com +5h..+29h"},
		},
		{
			name:     "suspended user gets one row and no grant",
			shifts:   []Shift{shift(alice, 5, 29)},
			accounts: suspended,
			want:     []string{"suspended  alice@example.com +5h..+29h"},
		},
		{
			name:     "email map",
			shifts:   []Shift{shift(Person{ID: "PALICE1", Email: "Alice@PD.example.com"}, 5, 29)},
			emailMap: map[string]string{"alice@pd.example.com": "Alice@example.com"},
			want:     []string{"create prod-db Alice@PD.example.com +5h..+29h"},
			writes:   1,
		},
		{
			name:   "C08 email case differs",
			shifts: []Shift{shift(Person{ID: "PALICE1", Email: "Alice.Smith@Example.COM"}, 5, 29)},
			want:   []string{"create prod-db Alice.Smith@Example.COM +5h..+29h"},
			writes: 1,
		},
		{
			name:      "ordered by resource, then email, then kind",
			shifts:    []Shift{shift(bob, 5, 29), shift(alice, 5, 29), shift(Person{ID: "PZED", Email: "zed@example.com"}, 1, 2)},
			resources: []strongdm.Resource{stageDB, prodDB},
			grants:    []strongdm.Grant{grant("g1", "a-0002", 5, 29)},
			want: []string{
				"unmatched  zed@example.com +1h..+2h",
				"create prod-db alice@example.com +5h..+29h",
				"covered prod-db bob@example.com +5h..+29h grant=g1",
				"create stage-db alice@example.com +5h..+29h",
				"create stage-db bob@example.com +5h..+29h",
			},
			writes: 3,
		},
		{
			name:   "second shift on a pair is created behind this run's grant",
			shifts: []Shift{shift(alice, 20, 29), shift(alice, 5, 10)},
			want: []string{
				"create prod-db alice@example.com +5h..+10h",
				"create prod-db alice@example.com +20h..+29h behind=(this run's grant)",
			},
			writes: 2,
		},
		{
			name:   "unexpired grant before the shift: create behind it",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -2, 2)},
			want:   []string{"create prod-db alice@example.com +5h..+29h behind=g1"},
			writes: 1,
		},
		{
			// strongDM may refuse it (one grant per pair), but where it
			// allows several it writes, and the cap bounds what may be
			// written.
			name:   "a create behind a grant counts for max-changes",
			shifts: []Shift{shift(alice, 5, 29), shift(bob, 5, 29)},
			grants: []strongdm.Grant{grant("g1", "a-0001", -2, 2)},
			max:    2,
			want: []string{
				"create prod-db alice@example.com +5h..+29h behind=g1",
				"create prod-db bob@example.com +5h..+29h",
			},
			writes: 2,
		},
		{
			name:   "revoke off-call member",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g2", "a-0002", -2, 10)},
			revoke: true,
			want: []string{
				"create prod-db alice@example.com +5h..+29h",
				"revoke prod-db bob@example.com -2h..+10h grant=g2",
			},
			writes: 2,
		},
		{
			name:   "revoked stale grant unblocks the create",
			shifts: []Shift{shift(alice, 0, 5)},
			grants: []strongdm.Grant{grant("g1", "a-0001", 30, 40)},
			revoke: true,
			want: []string{
				"create prod-db alice@example.com +0h..+5h grant=g1",
				"revoke prod-db alice@example.com +30h..+40h grant=g1",
			},
			writes: 2,
		},
		{
			name:    "no revoke of a non-member",
			shifts:  []Shift{shift(alice, 5, 29)},
			grants:  []strongdm.Grant{grant("g2", "a-0002", -2, 10)},
			revoke:  true,
			members: map[string]bool{"a-0001": true},
			want:    []string{"create prod-db alice@example.com +5h..+29h"},
			writes:  1,
		},
		{
			name:   "no revoke of an access-request grant",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{requested},
			revoke: true,
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "no revoke of a permanent grant",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g2", "a-0002", -2, 0)},
			revoke: true,
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "no revoke on an unmanaged resource",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{unmanaged},
			revoke: true,
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "no revoke of an overlapping grant",
			shifts: []Shift{shift(alice, 5, 29), shift(bob, 0, 3)},
			grants: []strongdm.Grant{grant("g2", "a-0002", -2, 1)},
			revoke: true,
			want: []string{
				"create prod-db alice@example.com +5h..+29h",
				"extend prod-db bob@example.com +1h..+3h grant=g2",
			},
			writes: 2,
		},
		{
			name:     "no revoke of a suspended on-call person's grant",
			shifts:   []Shift{shift(alice, 5, 29)},
			accounts: suspended,
			grants:   []strongdm.Grant{grant("g1", "a-0001", 0, 6)},
			revoke:   true,
			want:     []string{"suspended  alice@example.com +5h..+29h"},
		},
		{
			name:    "no revoke when the data is incomplete",
			shifts:  []Shift{shift(alice, 5, 29)},
			grants:  []strongdm.Grant{grant("g2", "a-0002", -2, 10)},
			revoke:  true,
			partial: true,
			want:    []string{"create prod-db alice@example.com +5h..+29h"},
			skipped: SkipIncomplete,
			writes:  1,
		},
		{
			name:    "no revoke when nobody is on call",
			grants:  []strongdm.Grant{grant("g2", "a-0002", -2, 10)},
			revoke:  true,
			want:    nil,
			skipped: SkipNobody,
		},
		{
			name:   "revoke off leaves grants alone",
			shifts: []Shift{shift(alice, 5, 29)},
			grants: []strongdm.Grant{grant("g2", "a-0002", -2, 10)},
			want:   []string{"create prod-db alice@example.com +5h..+29h"},
			writes: 1,
		},
		{
			name:   "max changes reached is fine",
			shifts: []Shift{shift(alice, 5, 29), shift(bob, 5, 29)},
			max:    2,
			want: []string{
				"create prod-db alice@example.com +5h..+29h",
				"create prod-db bob@example.com +5h..+29h",
			},
			writes: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := Input{
				Now:        now,
				Shifts:     tt.shifts,
				Resources:  tt.resources,
				Accounts:   tt.accounts,
				EmailMap:   tt.emailMap,
				Grants:     tt.grants,
				RoleAccess: tt.role,
				Revoke:     tt.revoke,
				Members:    tt.members,
				Complete:   !tt.partial,
				MaxChanges: tt.max,
			}
			if in.Resources == nil {
				in.Resources = []strongdm.Resource{prodDB}
			}
			if in.Accounts == nil {
				in.Accounts = accounts
			}
			if in.Members == nil {
				in.Members = allMembers
			}
			p, err := Make(in)
			if err != nil {
				t.Fatalf("Make() error = %v", err)
			}
			var got []string
			for _, a := range p.Actions {
				got = append(got, row(a))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Make() actions =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if p.Writes != tt.writes {
				t.Errorf("Make() Writes = %d, want %d", p.Writes, tt.writes)
			}
			if p.RevokeSkipped != tt.skipped {
				t.Errorf("Make() RevokeSkipped = %q, want %q", p.RevokeSkipped, tt.skipped)
			}
		})
	}
}

// Ensure the matched account, not just the email, lands in the action.
func TestMakeAccount(t *testing.T) {
	t.Parallel()
	p, err := Make(Input{
		Now:       now,
		Shifts:    []Shift{shift(Person{ID: "PALICE1", Email: "Alice.Smith@Example.COM"}, 5, 29)},
		Resources: []strongdm.Resource{prodDB},
		Accounts:  accounts,
		Complete:  true,
	})
	if err != nil {
		t.Fatalf("Make() error = %v", err)
	}
	if len(p.Actions) != 1 {
		t.Fatalf("Make() gave %d actions, want 1", len(p.Actions))
	}
	if got, want := p.Actions[0].Account.ID, "a-0009"; got != want {
		t.Errorf("Make() account = %q, want %q", got, want)
	}
}

func TestMakeTooManyChanges(t *testing.T) {
	t.Parallel()
	p, err := Make(Input{
		Now:        now,
		Shifts:     []Shift{shift(alice, 5, 29), shift(bob, 5, 29), shift(carol, 5, 29)},
		Resources:  []strongdm.Resource{prodDB},
		Accounts:   accounts,
		Complete:   true,
		MaxChanges: 2,
	})
	var tooMany *TooManyChangesError
	if !errors.As(err, &tooMany) {
		t.Fatalf("Make() error = %v, want *TooManyChangesError", err)
	}
	if tooMany.Count != 3 || tooMany.Max != 2 {
		t.Errorf("Make() error = %+v, want Count 3, Max 2", *tooMany)
	}
	if len(p.Actions) != 3 || p.Writes != 3 {
		t.Errorf("Make() plan has %d actions, %d writes, want the whole plan (3, 3)", len(p.Actions), p.Writes)
	}
	// The one check of message text: it must name the input to raise.
	if !strings.Contains(err.Error(), "max-changes") || !strings.Contains(err.Error(), "3") {
		t.Errorf("Make() error = %q, want the count and the input max-changes", err)
	}
}

// Ensure the same input gives the same plan, whatever map order does.
func TestMakeDeterministic(t *testing.T) {
	t.Parallel()
	in := benchInput(50, 5)
	first, _ := Make(in)
	for range 20 {
		p, _ := Make(in)
		if len(p.Actions) != len(first.Actions) {
			t.Fatalf("Make() gave %d actions, then %d", len(first.Actions), len(p.Actions))
		}
		for i := range p.Actions {
			if row(p.Actions[i]) != row(first.Actions[i]) || p.Actions[i].Account.ID != first.Actions[i].Account.ID {
				t.Fatalf("Make() row %d = %q, earlier %q", i, row(p.Actions[i]), row(first.Actions[i]))
			}
		}
	}
}

// benchInput has n people on call, each matched, over r resources, with a
// mix of covering, partial and stale grants and revocation on.
func benchInput(n, r int) Input {
	in := Input{
		Now:      now,
		Accounts: make(map[string]strongdm.Account, n),
		Members:  make(map[string]bool, n),
		Revoke:   true,
		Complete: true,
	}
	for i := range r {
		in.Resources = append(in.Resources, strongdm.Resource{ID: fmt.Sprintf("rs-%04d", i), Name: fmt.Sprintf("db-%d", i)})
	}
	for i := range n {
		email := fmt.Sprintf("user%04d@example.com", i)
		acct := strongdm.Account{ID: fmt.Sprintf("a-%04d", i), Kind: "user", Email: email}
		in.Accounts[email] = acct
		in.Members[acct.ID] = true
		from := float64(i % 24)
		in.Shifts = append(in.Shifts, shift(Person{ID: fmt.Sprintf("PU%04d", i), Email: email}, from, from+8))
		for j, res := range in.Resources {
			g := strongdm.Grant{ID: fmt.Sprintf("g-%d-%d", i, j), AccountID: acct.ID, ResourceID: res.ID}
			switch (i + j) % 4 {
			case 0: // covers
				g.Start, g.End = at(from), at(from+8)
			case 1: // partial
				g.Start, g.End = at(from), at(from+4)
			case 2: // stale
				g.Start, g.End = at(from+20), at(from+30)
			default:
				continue
			}
			in.Grants = append(in.Grants, g)
		}
	}
	return in
}

func BenchmarkMake(b *testing.B) {
	in := benchInput(1000, 5)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Make(in); err != nil {
			b.Fatal(err)
		}
	}
}
