package pagerdutytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultLimit = 25  // PagerDuty's default page size
	maxLimit     = 100 // and its cap
	maxOffset    = 10000
	maxWindow    = 90 * 24 * time.Hour
	// htmlBase stands in for the account's web address.
	htmlBase = "https://emulator.pagerduty.invalid"
)

// ref is PagerDuty's reference object.
type ref struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary,omitempty"`
	Self    string `json:"self,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
	// DeletedAt is set on references to deleted users.
	DeletedAt string `json:"deleted_at,omitempty"`
}

// fullUser is the User object served with include[]=users and by the
// user endpoints.
type fullUser struct {
	ID                string  `json:"id"`
	Type              string  `json:"type"`
	Summary           string  `json:"summary"`
	Self              string  `json:"self"`
	HTMLURL           string  `json:"html_url"`
	Name              string  `json:"name"`
	Email             string  `json:"email"`
	TimeZone          string  `json:"time_zone"`
	Color             string  `json:"color"`
	Role              string  `json:"role"`
	Description       *string `json:"description"`
	InvitationSent    bool    `json:"invitation_sent"`
	JobTitle          string  `json:"job_title"`
	Teams             []ref   `json:"teams"`
	ContactMethods    []ref   `json:"contact_methods"`
	NotificationRules []ref   `json:"notification_rules"`
}

type oncallRow struct {
	User             any     `json:"user"`
	Schedule         *ref    `json:"schedule"`
	EscalationPolicy ref     `json:"escalation_policy"`
	EscalationLevel  int     `json:"escalation_level"`
	Start            *string `json:"start"`
	End              *string `json:"end"`
}

type oncallsPage struct {
	OnCalls []oncallRow `json:"oncalls"`
	Limit   int         `json:"limit"`
	Offset  int         `json:"offset"`
	More    bool        `json:"more"`
	Total   *int        `json:"total"`
}

type entry struct {
	Start *string `json:"start"`
	End   *string `json:"end"`
	User  ref     `json:"user"`
}

type subSchedule struct {
	Name     string   `json:"name"`
	Entries  []entry  `json:"rendered_schedule_entries,omitempty"`
	Coverage *float64 `json:"rendered_coverage_percentage,omitempty"`
}

type scheduleBody struct {
	ID                   string      `json:"id"`
	Type                 string      `json:"type"`
	Summary              string      `json:"summary"`
	Self                 string      `json:"self"`
	HTMLURL              string      `json:"html_url"`
	Name                 string      `json:"name"`
	TimeZone             string      `json:"time_zone"`
	Description          string      `json:"description"`
	EscalationPolicies   []ref       `json:"escalation_policies"`
	Users                []ref       `json:"users"`
	Teams                []ref       `json:"teams"`
	ScheduleLayers       []any       `json:"schedule_layers"`
	OverridesSubschedule subSchedule `json:"overrides_subschedule"`
	FinalSchedule        subSchedule `json:"final_schedule"`
}

// route answers an authenticated GET from the org.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	org, now := s.org, s.now()
	s.mu.Unlock()
	a := &answer{w: w, q: r.URL.Query(), org: org, now: now, base: "http://" + r.Host}

	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "oncalls":
		a.oncalls()
	case len(parts) == 2 && parts[0] == "schedules":
		a.schedule(parts[1])
	case len(parts) == 3 && parts[0] == "schedules" && parts[2] == "users":
		a.scheduleUsers(parts[1])
	case len(parts) == 2 && parts[0] == "users":
		a.user(parts[1])
	default:
		writeError(w, http.StatusNotFound, 2100, "Not Found")
	}
}

// answer holds what one request needs.
type answer struct {
	w    http.ResponseWriter
	q    url.Values
	org  Org
	now  time.Time
	base string // for self links
}

func (a *answer) badRequest(detail string) {
	writeError(a.w, http.StatusBadRequest, 2001, "Invalid Input Provided", detail)
}

func (a *answer) oncalls() {
	loc, ok := a.zone(a.org.TimeZone)
	if !ok {
		return
	}
	since, until, ok := a.window(a.now, a.now)
	if !ok {
		return
	}
	if until.Sub(since) > maxWindow {
		a.badRequest("The search range must not exceed 90 days")
		return
	}
	limit, offset, ok := a.paging()
	if !ok {
		return
	}
	includes := a.q["include[]"]
	for _, inc := range includes {
		if !slices.Contains([]string{"users", "schedules", "escalation_policies"}, inc) {
			a.badRequest("include[] must be users, schedules or escalation_policies")
			return
		}
	}
	withUsers := slices.Contains(includes, "users")
	schedIDs, policyIDs, userIDs := a.q["schedule_ids[]"], a.q["escalation_policy_ids[]"], a.q["user_ids[]"]

	var rows []oncallRow
	earliest := map[string]bool{}
	for _, oc := range a.org.OnCalls {
		// Filters of different kinds are ANDed; IDs within one are ORed.
		if len(schedIDs) > 0 && !slices.Contains(schedIDs, oc.ScheduleID) ||
			len(policyIDs) > 0 && !slices.Contains(policyIDs, oc.EscalationPolicyID) ||
			len(userIDs) > 0 && !slices.Contains(userIDs, oc.UserID) {
			continue
		}
		if !overlaps(oc.Start, oc.End, since, until) {
			continue
		}
		if a.q.Get("earliest") == "true" {
			key := oc.EscalationPolicyID + "/" + strconv.Itoa(oc.EscalationLevel) + "/" + oc.UserID
			if earliest[key] {
				continue
			}
			earliest[key] = true
		}
		rows = append(rows, a.oncallRow(oc, loc, withUsers))
	}

	page := oncallsPage{OnCalls: []oncallRow{}, Limit: limit, Offset: offset, More: offset+limit < len(rows)}
	if offset < len(rows) {
		page.OnCalls = rows[offset:min(offset+limit, len(rows))]
	}
	if a.q.Get("total") == "true" {
		n := len(rows)
		page.Total = &n
	}
	writeJSON(a.w, page)
}

func (a *answer) oncallRow(oc OnCall, loc *time.Location, withUsers bool) oncallRow {
	row := oncallRow{
		User:             a.userObject(oc.UserID, withUsers),
		EscalationPolicy: a.policyRef(oc.EscalationPolicyID),
		EscalationLevel:  oc.EscalationLevel,
		Start:            render(oc.Start, loc),
		End:              render(oc.End, loc),
	}
	if oc.ScheduleID != "" {
		sc, _ := a.findSchedule(oc.ScheduleID)
		row.Schedule = &ref{ID: sc.ID, Type: "schedule_reference", Summary: sc.Name,
			Self: a.base + "/schedules/" + sc.ID, HTMLURL: htmlBase + "/schedules/" + sc.ID}
	}
	return row
}

// userObject is a full User when asked for and the user is not deleted;
// deleted users stay references (PagerDuty's documented behaviour).
func (a *answer) userObject(id string, full bool) any {
	u, ok := a.findUser(id)
	if ok && full && !u.Deleted {
		return a.fullUser(u)
	}
	r := ref{ID: id, Type: "user_reference", Summary: u.Name,
		Self: a.base + "/users/" + id, HTMLURL: htmlBase + "/users/" + id}
	if !ok || u.Deleted {
		r.Summary = "Deleted User"
		r.DeletedAt = u.DeletedAt
	}
	return r
}

func (a *answer) userRef(id string) ref {
	r, _ := a.userObject(id, false).(ref)
	return r
}

func (a *answer) fullUser(u User) fullUser {
	return fullUser{
		ID: u.ID, Type: "user", Summary: u.Name, Name: u.Name, Email: u.Email,
		Self: a.base + "/users/" + u.ID, HTMLURL: htmlBase + "/users/" + u.ID,
		TimeZone: orUTC(u.TimeZone), Color: "purple", Role: "user",
		Teams: []ref{}, ContactMethods: []ref{}, NotificationRules: []ref{},
	}
}

func (a *answer) policyRef(id string) ref {
	name := ""
	for _, p := range a.org.EscalationPolicies {
		if p.ID == id {
			name = p.Name
		}
	}
	return ref{ID: id, Type: "escalation_policy_reference", Summary: name,
		Self: a.base + "/escalation_policies/" + id, HTMLURL: htmlBase + "/escalation_policies/" + id}
}

func (a *answer) schedule(id string) {
	sc, ok := a.findSchedule(id)
	if !ok {
		writeError(a.w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	loc, ok := a.zone(sc.TimeZone)
	if !ok {
		return
	}
	body := scheduleBody{
		ID: sc.ID, Type: "schedule", Summary: sc.Name, Name: sc.Name, TimeZone: orUTC(sc.TimeZone),
		Self: a.base + "/schedules/" + sc.ID, HTMLURL: htmlBase + "/schedules/" + sc.ID,
		EscalationPolicies: []ref{}, Users: []ref{}, Teams: []ref{}, ScheduleLayers: []any{},
		OverridesSubschedule: subSchedule{Name: "Overrides"},
		FinalSchedule:        subSchedule{Name: "Final Schedule"},
	}
	for _, p := range sc.EscalationPolicies {
		body.EscalationPolicies = append(body.EscalationPolicies, a.policyRef(p))
	}
	for _, u := range sc.Users {
		body.Users = append(body.Users, a.userRef(u))
	}
	// Entries are rendered only when since or until is given.
	if a.q.Has("since") || a.q.Has("until") {
		since, until, ok := a.scheduleWindow()
		if !ok {
			return
		}
		overflow := a.q.Get("overflow") == "true"
		entries := []entry{}
		var covered time.Duration
		for _, sp := range sc.FinalSchedule {
			if !overlaps(sp.Start, sp.End, since, until) {
				continue
			}
			start, end := sp.Start, sp.End
			if !overflow {
				// Entries are cut at the window's edges unless overflow;
				// a span that never ends keeps its null end.
				start = clip(start, since, until)
				if end != "" {
					end = clip(end, since, until)
				}
			}
			covered += spanLength(start, end, until)
			entries = append(entries, entry{Start: render(start, loc), End: render(end, loc), User: a.userRef(sp.UserID)})
		}
		pct := 0.0
		if until.After(since) {
			pct = min(100, 100*covered.Seconds()/until.Sub(since).Seconds())
		}
		body.FinalSchedule.Entries, body.FinalSchedule.Coverage = entries, &pct
		body.OverridesSubschedule.Entries = []entry{}
	}
	writeJSON(a.w, map[string]any{"schedule": body})
}

// scheduleUsers lists the users on call in the schedule during the window,
// or all its members when no window is given.
func (a *answer) scheduleUsers(id string) {
	sc, ok := a.findSchedule(id)
	if !ok {
		writeError(a.w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	var ids []string
	if a.q.Has("since") || a.q.Has("until") {
		since, until, ok := a.scheduleWindow()
		if !ok {
			return
		}
		for _, sp := range sc.FinalSchedule {
			if overlaps(sp.Start, sp.End, since, until) && !slices.Contains(ids, sp.UserID) {
				ids = append(ids, sp.UserID)
			}
		}
	} else {
		ids = sc.Users
	}
	users := []fullUser{}
	for _, uid := range ids {
		if u, ok := a.findUser(uid); ok && !u.Deleted {
			users = append(users, a.fullUser(u))
		}
	}
	writeJSON(a.w, map[string]any{"users": users})
}

func (a *answer) user(id string) {
	u, ok := a.findUser(id)
	if !ok || u.Deleted {
		writeError(a.w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	writeJSON(a.w, map[string]any{"user": a.fullUser(u)})
}

func (a *answer) findUser(id string) (User, bool) {
	for _, u := range a.org.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

func (a *answer) findSchedule(id string) (Schedule, bool) {
	for _, sc := range a.org.Schedules {
		if sc.ID == id {
			return sc, true
		}
	}
	return Schedule{ID: id}, false
}

// zone reads time_zone, defaulting to def (the account's zone for
// /oncalls, the schedule's for /schedules).
func (a *answer) zone(def string) (*time.Location, bool) {
	name := a.q.Get("time_zone")
	if name == "" {
		name = orUTC(def)
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		a.badRequest("time_zone is not a valid time zone")
		return nil, false
	}
	return loc, true
}

// window reads since and until with the given defaults.
func (a *answer) window(defSince, defUntil time.Time) (since, until time.Time, ok bool) {
	since, until = defSince, defUntil
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := a.q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(a.w, http.StatusBadRequest, 2004, "Invalid since/until", p.name+" is not an ISO 8601 date-time")
				return since, until, false
			}
			*p.t = t
		}
	}
	if until.Before(since) {
		writeError(a.w, http.StatusBadRequest, 2005, "Invalid Query Date Range", "until must not be before since")
		return since, until, false
	}
	return since, until, true
}

// scheduleWindow: a missing since or until is two weeks from the other.
func (a *answer) scheduleWindow() (time.Time, time.Time, bool) {
	const twoWeeks = 14 * 24 * time.Hour
	since, until, ok := a.window(a.now, a.now)
	if !ok {
		return since, until, false
	}
	switch {
	case !a.q.Has("since"):
		since = until.Add(-twoWeeks)
	case !a.q.Has("until"):
		until = since.Add(twoWeeks)
	}
	return since, until, true
}

func (a *answer) paging() (limit, offset int, ok bool) {
	limit, offset = defaultLimit, 0
	var err error
	if v := a.q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			a.badRequest("limit must be a positive integer")
			return 0, 0, false
		}
		limit = min(limit, maxLimit) // PagerDuty caps rather than refuses
	}
	if v := a.q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			a.badRequest("offset must be a non-negative integer")
			return 0, 0, false
		}
	}
	if offset+limit > maxOffset {
		a.badRequest("offset + limit must not exceed 10000")
		return 0, 0, false
	}
	return limit, offset, true
}

// overlaps reports whether [start, end) meets [since, until]; an empty
// start or end is open. A point window (since == until) asks who is on
// call at that instant.
func overlaps(start, end string, since, until time.Time) bool {
	if start != "" {
		s, _ := time.Parse(time.RFC3339, start)
		if s.After(until) || s.Equal(until) && until.After(since) {
			return false
		}
	}
	if end != "" {
		e, _ := time.Parse(time.RFC3339, end)
		if !e.After(since) {
			return false
		}
	}
	return true
}

// clip moves an RFC 3339 time into [since, until], in UTC.
func clip(v string, since, until time.Time) string {
	t, _ := time.Parse(time.RFC3339, v)
	switch {
	case t.Before(since):
		return since.UTC().Format(time.RFC3339)
	case t.After(until):
		return until.UTC().Format(time.RFC3339)
	}
	return v
}

func spanLength(start, end string, until time.Time) time.Duration {
	s, _ := time.Parse(time.RFC3339, start)
	e := until
	if end != "" {
		e, _ = time.Parse(time.RFC3339, end)
	}
	return max(0, e.Sub(s))
}

// render gives null for an empty time, a UTC time (ending in Z) in loc,
// and any other time as written, offset included.
func render(v string, loc *time.Location) *string {
	if v == "" {
		return nil
	}
	if strings.HasSuffix(v, "Z") {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			v = t.In(loc).Format(time.RFC3339)
		}
	}
	return &v
}

func orUTC(zone string) string {
	if zone == "" {
		return "UTC"
	}
	return zone
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, 0, "Internal Server Error")
		return
	}
	w.Write(data)
}

// writeError writes PagerDuty's error body:
// {"error":{"message":"...","code":2001,"errors":["..."]}}.
func writeError(w http.ResponseWriter, status, code int, message string, details ...string) {
	type object struct {
		Message string   `json:"message"`
		Code    int      `json:"code,omitempty"`
		Errors  []string `json:"errors,omitempty"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	data, _ := json.Marshal(map[string]object{"error": {Message: message, Code: code, Errors: details}})
	w.Write(data)
}
