package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// Org is an organisation in both services: who is on call in PagerDuty,
// and the resources, users and grants of strongDM. As JSON it has two
// members, "pagerduty" and "strongdm", in the formats documented by the
// pagerdutytest and strongdmtest packages.
type Org struct {
	PagerDuty pagerdutytest.Org `json:"pagerduty"`
	StrongDM  strongdmtest.Org  `json:"strongdm"`
	// Schedules and Resources are what a run against this organisation
	// manages, when the configuration names none.
	Schedules []string `json:"schedules"`
	Policies  []string `json:"escalation_policies,omitempty"`
	Resources []string `json:"resources"`
}

// LoadOrg reads an organisation from a JSON file.
func LoadOrg(path string) (Org, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Org{}, fmt.Errorf("read organisation: %w", err)
	}
	var o Org
	if err := json.Unmarshal(b, &o); err != nil {
		return Org{}, fmt.Errorf("read organisation %s: %w", path, err)
	}
	return o, nil
}

// Sample is the sandbox's organisation, with shifts around now: three
// schedules, ten people (one on two levels, one without a strongDM user,
// one suspended, one targeted directly by a policy, one with a role), two
// resources and one grant made by an earlier run.
func Sample(now time.Time) Org {
	t := now.UTC().Truncate(time.Hour)
	at := func(h int) string { return t.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	people := []struct{ id, name, email string }{
		{"PALICE1", "Alice Archer", "alice@example.com"},
		{"PBOB001", "Bob Brown", "bob@example.com"},
		{"PCAROL1", "Carol Chen", "carol@example.com"},
		{"PDAVE01", "Dave Diaz", "dave@example.com"},
		{"PERIN01", "Erin Evans", "erin@example.com"},
		{"PFRANK1", "Frank Fox", "frank@example.com"},   // no strongDM user
		{"PGRACE1", "Grace Green", "grace@example.com"}, // suspended in strongDM
		{"PHEIDI1", "Heidi Hill", "heidi@example.com"},  // targeted directly by a policy
		{"PIVAN01", "Ivan Ito", "ivan@example.com"},
		{"PJUDY01", "Judy Jones", "judy@example.com"},
	}
	var o Org
	o.Schedules = []string{"PPRIMAR", "PSECOND", "PDBAOPS"}
	o.Policies = []string{"PEP0002"}
	o.Resources = []string{"prod-db", "bastion"}
	for i, p := range people {
		o.PagerDuty.Users = append(o.PagerDuty.Users, pagerdutytest.User{ID: p.id, Name: p.name, Email: p.email})
		if p.id == "PFRANK1" {
			continue
		}
		first, last, _ := strings.Cut(p.name, " ")
		o.StrongDM.Accounts = append(o.StrongDM.Accounts, strongdmtest.Account{
			ID: fmt.Sprintf("a-%04d", i+1), Kind: "user", Email: p.email,
			FirstName: first, LastName: last, Suspended: p.id == "PGRACE1",
		})
	}
	o.PagerDuty.EscalationPolicies = []pagerdutytest.Policy{{ID: "PEP0001", Name: "Platform"}, {ID: "PEP0002", Name: "Databases"}}
	o.PagerDuty.Schedules = []pagerdutytest.Schedule{
		{ID: "PPRIMAR", Name: "Platform primary", Users: []string{"PALICE1", "PBOB001", "PCAROL1", "PIVAN01"}, EscalationPolicies: []string{"PEP0001"}},
		{ID: "PSECOND", Name: "Platform secondary", Users: []string{"PALICE1", "PDAVE01", "PGRACE1", "PJUDY01"}, EscalationPolicies: []string{"PEP0001"}},
		{ID: "PDBAOPS", Name: "Database on-call", Users: []string{"PERIN01", "PFRANK1"}, EscalationPolicies: []string{"PEP0002"}},
	}
	oc := func(user, sched, policy string, level, from, to int) pagerdutytest.OnCall {
		return pagerdutytest.OnCall{UserID: user, ScheduleID: sched, EscalationPolicyID: policy, EscalationLevel: level, Start: at(from), End: at(to)}
	}
	o.PagerDuty.OnCalls = []pagerdutytest.OnCall{
		oc("PALICE1", "PPRIMAR", "PEP0001", 1, -2, 6),
		oc("PALICE1", "PSECOND", "PEP0001", 2, -2, 10), // the same person on two levels: one grant
		oc("PBOB001", "PPRIMAR", "PEP0001", 1, 6, 14),
		oc("PCAROL1", "PPRIMAR", "PEP0001", 1, 14, 22),
		oc("PIVAN01", "PPRIMAR", "PEP0001", 1, 22, 30),
		oc("PDAVE01", "PSECOND", "PEP0001", 2, 10, 22),
		oc("PGRACE1", "PSECOND", "PEP0001", 2, 22, 34),
		oc("PERIN01", "PDBAOPS", "PEP0002", 1, -4, 12),
		oc("PFRANK1", "PDBAOPS", "PEP0002", 1, 12, 36),
		{UserID: "PHEIDI1", EscalationPolicyID: "PEP0002", EscalationLevel: 2}, // no schedule, start or end
	}
	o.StrongDM.Resources = []strongdmtest.Resource{
		{ID: "rs-0001", Name: "prod-db", Type: "postgres", Tags: map[string]string{"oncall": "true"}},
		{ID: "rs-0002", Name: "bastion", Type: "ssh", Tags: map[string]string{"oncall": "true"}},
		{ID: "rs-0003", Name: "staging-db", Type: "postgres"},
	}
	o.StrongDM.Grants = []strongdmtest.Grant{
		// Made by an earlier run: Bob already has prod-db for his shift.
		{ID: "ag-0001", AccountID: "a-0002", ResourceID: "rs-0001", Start: t.Add(6 * time.Hour), End: t.Add(14 * time.Hour)},
	}
	o.StrongDM.RoleAccess = []strongdmtest.RoleAccess{
		// Heidi is a database administrator: she reaches prod-db through a role.
		{AccountID: "a-0008", ResourceID: "rs-0001", RoleID: "r-0001"},
	}
	return o
}
