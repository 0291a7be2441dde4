package pagerdutytest

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Org is the content of an emulated PagerDuty account. Times are RFC 3339
// strings; an empty start or end stands for PagerDuty's null.
type Org struct {
	// TimeZone is the account's zone, used by /oncalls when the request
	// has no time_zone; empty means UTC.
	TimeZone           string     `json:"time_zone,omitempty"`
	Users              []User     `json:"users"`
	Schedules          []Schedule `json:"schedules"`
	EscalationPolicies []Policy   `json:"escalation_policies"`
	OnCalls            []OnCall   `json:"oncalls"`
}

// User is a PagerDuty user. A deleted user is served as a reference with
// no email, and /users/{id} answers 404 for it.
type User struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	TimeZone  string `json:"time_zone,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"`
	DeletedAt string `json:"deleted_at,omitempty"` // served on deleted references when set
}

// Schedule is a schedule with its rendered final schedule.
type Schedule struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone,omitempty"` // empty means UTC
	// Users are the IDs of the schedule's members (GET /schedules/{id}
	// users), on call or not.
	Users []string `json:"users"`
	// EscalationPolicies are the IDs of the policies using the schedule;
	// PagerDuty lists on-calls only for schedules that have some.
	EscalationPolicies []string `json:"escalation_policies"`
	FinalSchedule      []Span   `json:"final_schedule"`
}

// Span is one entry of a final schedule; an empty End never ends.
type Span struct {
	UserID string `json:"user_id"`
	Start  string `json:"start"`
	End    string `json:"end,omitempty"`
}

// Policy is an escalation policy.
type Policy struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// OnCall is one /oncalls row. An empty ScheduleID, Start or End is served
// as null (a user targeted directly by the policy). Times ending in Z are
// rendered in the requested time zone; times with another offset are
// served as written (C01).
type OnCall struct {
	UserID             string `json:"user_id"`
	ScheduleID         string `json:"schedule_id,omitempty"`
	EscalationPolicyID string `json:"escalation_policy_id"`
	EscalationLevel    int    `json:"escalation_level"`
	Start              string `json:"start,omitempty"`
	End                string `json:"end,omitempty"`
}

// LoadOrg reads an Org from a JSON file (see the package documentation).
func LoadOrg(path string) (Org, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Org{}, fmt.Errorf("load pagerduty org: %w", err)
	}
	org, err := ParseOrg(data)
	if err != nil {
		return Org{}, fmt.Errorf("load pagerduty org %s: %w", path, err)
	}
	return org, nil
}

// ParseOrg reads an Org from JSON and checks it with Validate.
func ParseOrg(data []byte) (Org, error) {
	var org Org
	if err := json.Unmarshal(data, &org); err != nil {
		return Org{}, fmt.Errorf("decode org: %w", err)
	}
	return org, org.Validate()
}

// Validate checks that times parse, zones load and every reference points
// at something that exists.
func (o Org) Validate() error {
	users := map[string]bool{}
	for _, u := range o.Users {
		users[u.ID] = true
	}
	policies := map[string]bool{}
	for _, p := range o.EscalationPolicies {
		policies[p.ID] = true
	}
	schedules := map[string]bool{}
	if _, err := time.LoadLocation(o.TimeZone); err != nil {
		return fmt.Errorf("org time_zone %q: %w", o.TimeZone, err)
	}
	for _, s := range o.Schedules {
		schedules[s.ID] = true
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return fmt.Errorf("schedule %q time_zone: %w", s.ID, err)
		}
		for _, u := range s.Users {
			if !users[u] {
				return fmt.Errorf("schedule %q: unknown user %q", s.ID, u)
			}
		}
		for _, p := range s.EscalationPolicies {
			if !policies[p] {
				return fmt.Errorf("schedule %q: unknown escalation policy %q", s.ID, p)
			}
		}
		for i, sp := range s.FinalSchedule {
			if !users[sp.UserID] {
				return fmt.Errorf("schedule %q final_schedule[%d]: unknown user %q", s.ID, i, sp.UserID)
			}
			if err := checkTimes(sp.Start, sp.End, false); err != nil {
				return fmt.Errorf("schedule %q final_schedule[%d]: %w", s.ID, i, err)
			}
		}
	}
	for i, oc := range o.OnCalls {
		switch {
		case !users[oc.UserID]:
			return fmt.Errorf("oncalls[%d]: unknown user %q", i, oc.UserID)
		case !policies[oc.EscalationPolicyID]:
			return fmt.Errorf("oncalls[%d]: unknown escalation policy %q", i, oc.EscalationPolicyID)
		case oc.ScheduleID != "" && !schedules[oc.ScheduleID]:
			return fmt.Errorf("oncalls[%d]: unknown schedule %q", i, oc.ScheduleID)
		case oc.EscalationLevel < 1:
			return fmt.Errorf("oncalls[%d]: escalation_level %d is below 1", i, oc.EscalationLevel)
		}
		if err := checkTimes(oc.Start, oc.End, true); err != nil {
			return fmt.Errorf("oncalls[%d]: %w", i, err)
		}
	}
	return nil
}

func checkTimes(start, end string, startMayBeNull bool) error {
	if start == "" && !startMayBeNull {
		return fmt.Errorf("start is empty")
	}
	for _, v := range []string{start, end} {
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return fmt.Errorf("time %q: %w", v, err)
		}
	}
	return nil
}
