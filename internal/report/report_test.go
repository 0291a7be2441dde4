package report

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/plan"
	"github.com/oncall-access/oncall-access/internal/strongdm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return now.Add(time.Duration(h * float64(time.Hour))) }

var (
	alice  = plan.Person{ID: "PALICE1", Name: "Alice Smith", Email: "alice@example.com"}
	bob    = plan.Person{ID: "PBOB001", Name: "Bob", Email: "bob_jones@example.com"}
	carol  = plan.Person{ID: "PCAROL1", Name: "Carol", Email: "carol@example.com"}
	dave   = plan.Person{ID: "PDAVE01", Name: "Dave", Email: "dave@contractor.example"}
	prodDB = strongdm.Resource{ID: "rs-0001", Name: "prod-db"}
	logs   = strongdm.Resource{ID: "rs-0002", Name: "logs-ssh"}
)

// action is a row's action of kind k for p on r from hour from to hour to.
func action(k plan.Kind, p plan.Person, r strongdm.Resource, from, to float64) plan.Action {
	return plan.Action{
		Kind: k, Person: p, Resource: r, Start: at(from), End: at(to),
		Schedules: []string{"PSCHED1"}, Policies: []string{"PEP0001"}, Levels: []int{1},
	}
}

func base() Summary {
	s := Summary{
		Version:  "v1.2.3",
		Duration: 1234 * time.Millisecond,
		Calls:    map[string]int{"PagerDuty": 2, "strongDM reads": 5, "strongDM writes": 3},
	}
	s.Window.Start, s.Window.End = now, at(24)
	return s
}

func golden() map[string]Summary {
	permanent := action(plan.Create, carol, prodDB, 0, 24)
	permanent.Schedules, permanent.Permanent = nil, true
	revoke := action(plan.Revoke, plan.Person{Name: "Erin", Email: "erin@example.com"}, prodDB, -2, 10)
	revoke.Schedules, revoke.Policies, revoke.Levels = nil, nil, nil
	noEmail := action(plan.NoEmail, plan.Person{ID: "PGHOST1", Name: "Deleted User"}, strongdm.Resource{}, 5, 29)
	suspended := action(plan.Suspended, plan.Person{Name: "Frank", Email: "frank@example.com"}, strongdm.Resource{}, 5, 29)
	unmatched := action(plan.Unmatched, dave, strongdm.Resource{}, 5, 29)

	basic := base()
	basic.TimeZone = time.FixedZone("CET", 3600)
	basic.Rows = []Row{
		{Action: action(plan.Create, alice, prodDB, 5, 29), Status: Created},
		{Action: action(plan.Extend, bob, prodDB, 17, 29), Status: Replaced},
		{Action: permanent, Status: Created},
		{Action: action(plan.Covered, alice, logs, 5, 29)},
		{Action: action(plan.Role, bob, logs, 5, 29)},
		{Action: action(plan.Deferred, carol, logs, 30, 40)},
		{Action: revoke, Status: Revoked},
		{Action: unmatched},
		{Action: suspended},
		{Action: noEmail},
	}
	basic.Warnings = []string{"PagerDuty user PGHOST1 has no email (deleted user?): skipped"}
	basic.Notes = []string{"schedule PSCHED9 is used by no escalation policy: its final schedule gave the shifts"}

	dry := base()
	dry.DryRun = true
	dry.Rows = []Row{
		{Action: action(plan.Create, alice, prodDB, 5, 29)},
		{Action: action(plan.Extend, bob, prodDB, 17, 29)},
		{Action: revoke},
		{Action: action(plan.Covered, carol, prodDB, 5, 29)},
	}

	failure := base()
	failure.Error = "deadline of 5m0s exceeded"
	failure.Rows = []Row{
		{Action: action(plan.Create, alice, prodDB, 5, 29), Status: Created},
		{Action: action(plan.Create, bob, prodDB, 5, 29), Status: Failed,
			Err: "create grant for account a-0002 on resource rs-0001: PermissionDenied: access denied"},
		{Action: action(plan.Create, carol, prodDB, 5, 29), Status: NotAttempted, Err: "context deadline exceeded"},
	}

	redact := base()
	redact.Redact = true
	redact.Rows = []Row{
		{Action: action(plan.Create, alice, prodDB, 5, 29), Status: Created},
		{Action: action(plan.Create, bob, prodDB, 5, 29), Status: Failed,
			Err: "account bob_jones@example.com: PermissionDenied"},
		{Action: unmatched},
	}
	redact.Warnings = []string{"email-map line 3: dave@contractor.example maps to no strongDM user"}

	hostile := base()
	odd := plan.Person{Name: "Eve | `rm -rf` *bold* [x](http://evil.example)\n<script>", Email: "eve|x@example.com"}
	oddRes := strongdm.Resource{ID: "rs-0003", Name: "db|`prod`"}
	hostile.Rows = []Row{
		{Action: action(plan.Create, odd, oddRes, 5, 29), Status: Failed, Err: "bad | thing\nsecond line `code`"},
		{Action: action(plan.Unmatched, odd, strongdm.Resource{}, 5, 29)},
	}
	hostile.Warnings = []string{"a | pipe\nand a newline"}
	hostile.Version = "v1|`x`"

	nobody := base()
	nobody.Warnings = []string{"nobody is on call in schedule PSCHED1"}
	nobody.Notes = []string{"Nothing was revoked: " + plan.SkipNobody}

	return map[string]Summary{
		"basic": basic, "dryrun": dry, "failure": failure, "redact": redact,
		"escape": hostile, "nobody": nobody,
	}
}

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	for name, s := range golden() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := Markdown(s)
			path := filepath.Join("testdata", name+".golden.md")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Markdown(%s) differs from %s (go test -update rewrites it):\n%s", name, path, got)
			}
		})
	}
}

// Ensure every table line has exactly the cell separators of its seven
// columns, whatever the names hold.
func TestMarkdownEscapesCells(t *testing.T) {
	t.Parallel()
	s := golden()["escape"]
	md := Markdown(s)
	unescapedPipe := regexp.MustCompile(`(^|[^\\])\|`)
	liveMarkup := regexp.MustCompile("(^|[^\\\\])(<script>|\\]\\(http|`rm)")
	var tableLines int
	for _, line := range strings.Split(md, "\n") {
		if liveMarkup.MatchString(line) {
			t.Errorf("Markdown() line %q holds live markup", line)
		}
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		tableLines++
		if n := len(unescapedPipe.FindAllString(line, -1)); n != 8 {
			t.Errorf("Markdown() table line %q has %d cell separators, want 8", line, n)
		}
	}
	if tableLines != 3 { // header, separator, one row
		t.Errorf("Markdown() has %d table lines, want 3", tableLines)
	}
}

func TestMarkdownRedacts(t *testing.T) {
	t.Parallel()
	s := golden()["redact"]
	for _, out := range []string{Markdown(s), Outputs(s)["plan"]} {
		for _, email := range []string{"alice@example.com", "bob_jones@example.com", "bob\\_jones@example.com", "dave@contractor.example"} {
			if strings.Contains(out, email) {
				t.Errorf("redacted output holds %q:\n%s", email, out)
			}
		}
	}
}

// Ensure a huge run stays under GitHub's limit with complete totals.
func TestMarkdownLimit(t *testing.T) {
	t.Parallel()
	const n = 100000
	s := base()
	long := strings.Repeat("x", 5000)
	s.Rows = make([]Row, 0, 3*n)
	for i := range n {
		p := plan.Person{Name: fmt.Sprintf("Person %d", i), Email: fmt.Sprintf("person%06d@example.com", i)}
		s.Rows = append(s.Rows,
			Row{Action: action(plan.Create, p, prodDB, 5, 29), Status: Created},
			Row{Action: action(plan.Unmatched, p, strongdm.Resource{}, 5, 29)},
			Row{Action: action(plan.Create, p, logs, 5, 29), Status: Failed, Err: long},
		)
		s.Warnings = append(s.Warnings, fmt.Sprintf("warning %d", i))
	}
	md := Markdown(s)
	if len(md) > MaxBytes {
		t.Fatalf("Markdown() of %d rows is %d bytes, over %d", len(s.Rows), len(md), MaxBytes)
	}
	for _, want := range []string{
		fmt.Sprintf("**%d** created", n),
		fmt.Sprintf("**%d** unmatched", n),
		fmt.Sprintf("**%d** failed", n),
		"more failures not shown",
		"<sub>oncall-access v1.2.3",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown() of %d rows lacks %q", len(s.Rows), want)
		}
	}
	if got, want := s.Totals(), (Totals{Created: n, Unmatched: n, Failed: n}); got != want {
		t.Errorf("Totals() = %+v, want %+v", got, want)
	}
}

func TestTotals(t *testing.T) {
	t.Parallel()
	got := golden()["basic"].Totals()
	want := Totals{Created: 2, Extended: 1, Existing: 2, Revoked: 1, Deferred: 1, Unmatched: 1, Suspended: 1, NoEmail: 1}
	if got != want {
		t.Errorf("Totals() = %+v, want %+v", got, want)
	}
	got = golden()["dryrun"].Totals()
	want = Totals{WouldCreate: 1, WouldExtend: 1, WouldRevoke: 1, Existing: 1}
	if got != want {
		t.Errorf("Totals() of a dry run = %+v, want %+v", got, want)
	}
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	out := Outputs(golden()["failure"])
	for k, want := range map[string]string{"created": "1", "existing": "0", "revoked": "0", "unmatched": "0", "failed": "2"} {
		if out[k] != want {
			t.Errorf("Outputs()[%q] = %q, want %q", k, out[k], want)
		}
	}
	var got []map[string]string
	if err := json.Unmarshal([]byte(out["plan"]), &got); err != nil {
		t.Fatalf("Outputs() plan %q: %v", out["plan"], err)
	}
	want := map[string]string{
		"person": "Bob", "email": "bob_jones@example.com", "resource": "prod-db",
		"start": "2026-03-06T17:00:00Z", "end": "2026-03-07T17:00:00Z", "status": "failed",
	}
	if len(got) != 3 || fmt.Sprint(got[1]) != fmt.Sprint(want) {
		t.Errorf("Outputs() plan = %v, want 3 objects, the second %v", got, want)
	}
	if strings.Contains(out["plan"], "\n") {
		t.Errorf("Outputs() plan is not compact: %q", out["plan"])
	}

	// A dry run writes nothing, so the counts of writes are zero.
	dry := Outputs(golden()["dryrun"])
	if dry["created"] != "0" || dry["revoked"] != "0" || !strings.Contains(dry["plan"], `"status":"would create"`) {
		t.Errorf("Outputs() of a dry run = %v, want no writes counted and would-statuses", dry)
	}
}

func TestMaskEmail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"alice@example.com", "a***@example.com"},
		{"Alice.Smith@Example.COM", "A***@Example.COM"},
		{"é@example.com", "é***@example.com"},
		{"a@example.com", "a***@example.com"},
		{"not-an-email", "***"},
		{"@example.com", "***"},
		{"", ""},
	} {
		if got := MaskEmail(tt.in); got != tt.want {
			t.Errorf("MaskEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlanned(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		kind plan.Kind
		dry  bool
		want Status
	}{
		{plan.Create, true, WouldCreate},
		{plan.Create, false, NotAttempted},
		{plan.Extend, true, WouldExtend},
		{plan.Revoke, true, WouldRevoke},
		{plan.Revoke, false, NotAttempted},
		{plan.Covered, false, AlreadyGranted},
		{plan.Role, true, RoleAccess},
		{plan.Deferred, false, Deferred},
		{plan.Unmatched, false, Unmatched},
		{plan.Suspended, false, SuspendedUser},
		{plan.NoEmail, false, NoEmail},
	} {
		if got := Planned(tt.kind, tt.dry); got != tt.want {
			t.Errorf("Planned(%q, %v) = %q, want %q", tt.kind, tt.dry, got, tt.want)
		}
	}
}
