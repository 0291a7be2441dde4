package oncall

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/oncall-access/oncall-access/internal/clock"
)

// DefaultBaseURL is PagerDuty's US API; EU accounts use
// https://api.eu.pagerduty.com.
const DefaultBaseURL = "https://api.pagerduty.com"

const (
	pageLimit = 100 // PagerDuty's maximum page size
	// maxOffset is PagerDuty's cap on offset+limit for classic pagination.
	maxOffset = 10000
	// idsPerQuery keeps URLs short when many IDs are configured.
	idsPerQuery = 50
)

// Config configures a Source. The zero value of every field but Token has
// a default.
type Config struct {
	// BaseURL is PagerDuty's API, e.g. https://api.pagerduty.com; http is
	// allowed only for loopback hosts (the emulator). Empty means
	// DefaultBaseURL.
	BaseURL string
	Token   string // REST API key; read-only is enough
	// Transport carries the requests; nil means a default transport that
	// trusts the system roots.
	Transport http.RoundTripper
	// MaxAttempts bounds the attempts of each request; 0 means 5.
	MaxAttempts int
	// Sleep waits between attempts and must return early with ctx.Err()
	// when ctx ends; nil means a real timer. Tests inject one that records.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for jitter; nil means math/rand/v2.
	Rand func() float64
	// Logger gets a debug line per request (never the token); nil
	// discards.
	Logger *slog.Logger
}

// Source asks PagerDuty who is on call. It is safe for concurrent use.
type Source struct {
	pd          *pagerduty.Client
	token       string
	maxAttempts int
	sleep       func(ctx context.Context, d time.Duration) error
	rand        func() float64
	log         *slog.Logger
	requests    atomic.Int64 // HTTP requests sent, retries included
}

// Requests returns how many HTTP requests the Source has sent, retries
// included, for the run's report.
func (s *Source) Requests() int { return int(s.requests.Load()) }

// New checks cfg and returns a Source. It makes no request.
func New(cfg Config) (*Source, error) {
	if cfg.Token == "" {
		return nil, &ConfigError{Input: "pagerduty-token",
			Msg: "is empty; give a PagerDuty REST API key (read-only is enough)"}
	}
	for _, r := range cfg.Token {
		// The token goes into a header: a space, newline or non-ASCII
		// character is a paste error and could split the header.
		if r <= ' ' || r > '~' {
			return nil, &ConfigError{Input: "pagerduty-token",
				Msg: "contains a space, a control or a non-ASCII character; give the API key alone"}
		}
	}
	base, err := CheckBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}

	s := &Source{
		token:       cfg.Token,
		maxAttempts: cfg.MaxAttempts,
		sleep:       cfg.Sleep,
		rand:        cfg.Rand,
		log:         cfg.Logger,
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = defaultMaxAttempts
	}
	if s.sleep == nil {
		s.sleep = clock.Sleep
	}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	if s.log == nil {
		s.log = discard
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	s.pd = pagerduty.NewClient(cfg.Token, pagerduty.WithAPIEndpoint(base))
	s.pd.HTTPClient = s.newHTTPClient(transport)
	return s, nil
}

// CheckBaseURL returns the base URL of PagerDuty's API to use for raw (the
// default when empty), or a *ConfigError. It allows https anywhere and
// http only on loopback, where the token cannot leave the machine.
func CheckBaseURL(raw string) (string, error) {
	if raw == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(raw)
	shown := raw
	if err == nil {
		shown = u.Redacted() // a password in the URL is a secret too
	}
	bad := func(why string) error {
		return &ConfigError{Input: "pagerduty-api-url",
			Msg: fmt.Sprintf("%q %s; give a URL like %s", shown, why, DefaultBaseURL)}
	}
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", bad("is not an absolute URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", bad("has a user, a query or a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", bad("uses http on a host other than loopback: the API key would cross the network in clear text")
		}
	default:
		return "", bad("is not https")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OnCall returns who is on call for q's schedules and escalation policies
// between q.Since and q.Until. Problems with one person are Warnings; an
// error means the answer is incomplete.
func (s *Source) OnCall(ctx context.Context, q Query) (Result, error) {
	if err := checkQuery(q); err != nil {
		return Result{}, err
	}
	r := &run{s: s, q: q, users: map[string]*pagerduty.User{}, seen: map[string]bool{},
		members: map[string]bool{}, emails: map[string]string{}}

	// Filters of different kinds are ANDed by PagerDuty, while the inputs
	// mean "these schedules and these policies": query each kind apart.
	var rows []row
	for _, f := range []struct {
		name string
		ids  []string
	}{{"schedules", q.Schedules}, {"escalation policies", q.Policies}} {
		for chunk := range slices.Chunk(f.ids, idsPerQuery) {
			opts := pagerduty.ListOnCallOptions{}
			if f.name == "schedules" {
				opts.ScheduleIDs = chunk
			} else {
				opts.EscalationPolicyIDs = chunk
			}
			got, err := s.listOnCalls(ctx, q, opts)
			if err != nil {
				return Result{}, s.fail(fmt.Sprintf("list on-calls for %s %s from %s to %s",
					f.name, strings.Join(chunk, ","), rfc3339(q.Since), rfc3339(q.Until)), err)
			}
			rows = append(rows, got...)
		}
	}

	for _, row := range rows {
		if err := r.addRow(ctx, row); err != nil {
			return Result{}, err
		}
	}
	if err := r.checkSchedules(ctx); err != nil {
		return Result{}, err
	}
	if q.Members {
		if err := r.memberEmails(ctx); err != nil {
			return Result{}, err
		}
	}
	return r.res, nil
}

func checkQuery(q Query) error {
	if len(q.Schedules) == 0 && len(q.Policies) == 0 {
		return &ConfigError{Input: "pagerduty-schedules",
			Msg: "no schedule and no escalation policy given; give at least one ID"}
	}
	for _, f := range []struct {
		input string
		ids   []string
	}{{"pagerduty-schedules", q.Schedules}, {"pagerduty-escalation-policies", q.Policies}} {
		for _, id := range f.ids {
			if !ValidID(id) {
				return &ConfigError{Input: f.input, Msg: fmt.Sprintf(
					"%q is not a PagerDuty ID; IDs are upper-case letters and digits, like PABC123", id)}
			}
		}
	}
	if q.Since.IsZero() || q.Until.Before(q.Since) {
		return fmt.Errorf("on-call query from %s to %s: the window is empty or reversed",
			rfc3339(q.Since), rfc3339(q.Until))
	}
	return nil
}

// row is an /oncalls row and whether PagerDuty marked its user deleted.
type row struct {
	pagerduty.OnCall
	deleted bool
}

// deletedMarks reads what go-pagerduty's User drops: deleted_at.
type deletedMarks struct {
	OnCalls []struct {
		User struct {
			DeletedAt *string `json:"deleted_at"`
		} `json:"user"`
	} `json:"oncalls"`
}

// listOnCalls follows more/offset to the end with one fixed since/until,
// so that every page describes the same instant (go-pagerduty does not
// paginate /oncalls).
func (s *Source) listOnCalls(ctx context.Context, q Query, opts pagerduty.ListOnCallOptions) ([]row, error) {
	opts.Since, opts.Until = rfc3339(q.Since), rfc3339(q.Until)
	opts.TimeZone = "UTC"
	opts.Includes = []string{"users"} // emails come embedded: no request per user
	opts.Limit = pageLimit
	var rows []row
	for {
		cctx, c := withCall(ctx)
		c.keep = true
		page, err := s.pd.ListOnCallsWithContext(cctx, opts)
		if err != nil {
			return nil, s.apiError(ctx, c, "/oncalls", err)
		}
		var marks deletedMarks
		if json.Unmarshal(c.body, &marks) != nil || len(marks.OnCalls) != len(page.OnCalls) {
			marks.OnCalls = nil // go-pagerduty decoded it; do without marks
		}
		for i, oc := range page.OnCalls {
			r := row{OnCall: oc}
			if marks.OnCalls != nil {
				r.deleted = marks.OnCalls[i].User.DeletedAt != nil
			}
			rows = append(rows, r)
		}
		if !page.More {
			return rows, nil
		}
		if len(page.OnCalls) == 0 {
			return nil, fmt.Errorf("get /oncalls at offset %d: pagerduty said more but sent no row", opts.Offset)
		}
		step := page.Limit
		if step == 0 {
			step = uint(len(page.OnCalls))
		}
		opts.Offset += step
		if opts.Offset+opts.Limit > maxOffset {
			return nil, fmt.Errorf("get /oncalls: more than %d on-calls, past PagerDuty's paging limit; "+
				"configure fewer schedules or policies per run", maxOffset)
		}
	}
}

// run is the state of one OnCall.
type run struct {
	s       *Source
	q       Query
	res     Result
	users   map[string]*pagerduty.User // looked up; nil when PagerDuty has none
	seen    map[string]bool            // schedules that gave at least one row
	members map[string]bool
	emails  map[string]string // user ID → email, from /oncalls rows
}

// addRow turns an /oncalls row into an Entry, or into a Warning when the
// user has no email.
func (r *run) addRow(ctx context.Context, row row) error {
	r.seen[row.Schedule.ID] = true
	uid := row.User.ID
	if uid != "" {
		r.members[uid] = true
		if row.User.Email != "" {
			r.emails[uid] = row.User.Email
		}
	}
	if !keepLevel(r.q.Levels, int(row.EscalationLevel)) {
		return nil
	}
	name, email := cmp.Or(row.User.Name, row.User.Summary), row.User.Email
	if email == "" && !row.deleted {
		// A plain reference where a full user was asked for: PagerDuty (or
		// something between) did not expand it. Look the user up, once.
		u, err := r.user(ctx, uid)
		if err != nil {
			return r.s.fail(fmt.Sprintf("look up user %q of an on-call", uid), err)
		}
		if u != nil {
			name, email = cmp.Or(u.Name, name), u.Email
		}
	}
	if email == "" {
		// Deleted users stay references without email even with
		// include[]=users (C07).
		r.warn(uid, "pagerduty user %q (%s) has no email, probably deleted or deactivated; no access given",
			uid, cmp.Or(name, "no name"))
		r.noEmail(Entry{UserID: uid, Name: name, ScheduleID: row.Schedule.ID, PolicyID: row.EscalationPolicy.ID,
			Level: int(row.EscalationLevel)})
		return nil
	}

	e := Entry{
		UserID: uid, Name: name, Email: email,
		ScheduleID: row.Schedule.ID, PolicyID: row.EscalationPolicy.ID, Level: int(row.EscalationLevel),
		Start: r.q.Since, End: r.q.Until,
	}
	// A null start or end is a permanent on-call (a user targeted directly
	// by a policy): on call for the whole window, never a zero time (C02).
	e.Permanent = row.Start == "" || row.End == ""
	var err error
	if row.Start != "" {
		if e.Start, err = parseTime(row.Start); err != nil {
			return fmt.Errorf("read on-call start of user %q: %w", uid, err)
		}
	}
	if row.End != "" {
		if e.End, err = parseTime(row.End); err != nil {
			return fmt.Errorf("read on-call end of user %q: %w", uid, err)
		}
	}
	r.res.Entries = append(r.res.Entries, e)
	return nil
}

func keepLevel(levels []int, level int) bool {
	return len(levels) == 0 || slices.Contains(levels, level)
}

// user looks a user up once per run; nil means PagerDuty has no such user
// (404, deleted) or the ID is malformed.
func (r *run) user(ctx context.Context, id string) (*pagerduty.User, error) {
	if u, ok := r.users[id]; ok {
		return u, nil
	}
	if !ValidID(id) {
		return nil, nil
	}
	cctx, c := withCall(ctx)
	u, err := r.s.pd.GetUserWithContext(cctx, id, pagerduty.GetUserOptions{})
	if err != nil {
		err = r.s.apiError(ctx, c, "/users/"+id, err)
		if ae, ok := errors.AsType[*APIError](err); !ok || ae.StatusCode != http.StatusNotFound {
			return nil, err
		}
		u = nil
	}
	r.users[id] = u
	return u, nil
}

// checkSchedules looks up every configured schedule that gave no row, and
// every schedule when members are wanted.
func (r *run) checkSchedules(ctx context.Context) error {
	q := r.q
	for _, id := range q.Schedules {
		if r.seen[id] && !q.Members {
			continue
		}
		sched, err := r.s.getSchedule(ctx, q, id)
		if err != nil {
			return err
		}
		for _, u := range sched.Users {
			r.members[u.ID] = true
		}
		if r.seen[id] {
			continue
		}
		if len(sched.EscalationPolicies) > 0 {
			r.warn(id, "nobody is on call for schedule %q from %s to %s", id, rfc3339(q.Since), rfc3339(q.Until))
			continue
		}
		// PagerDuty lists on-calls only for schedules that an escalation
		// policy uses; for the others, the final schedule has the shifts.
		n, err := r.finalSchedule(ctx, id, sched)
		if err != nil {
			return err
		}
		if n == 0 {
			r.warn(id, "schedule %q is used by no escalation policy and has nobody on call from %s to %s",
				id, rfc3339(q.Since), rfc3339(q.Until))
			continue
		}
		r.warn(id, "schedule %q is used by no escalation policy; its %d shifts come from its final schedule", id, n)
	}
	return nil
}

// memberEmails fills Members and MemberEmails. Schedules list members as
// references, so a member not seen in /oncalls with an email costs one
// GET /users/{id}; a lookup that fails fails the run, since revocation
// must not work from a partial list.
//
// BUG(members): members of a configured escalation policy who are not on
// call in the window are not known (that needs GET
// /escalation_policies/{id}), so their grants are never revoked.
func (r *run) memberEmails(ctx context.Context) error {
	for id := range r.members {
		r.res.Members = append(r.res.Members, id)
	}
	slices.Sort(r.res.Members)
	for _, id := range r.res.Members {
		email := r.emails[id]
		if email == "" {
			u, err := r.user(ctx, id)
			if err != nil {
				return r.s.fail(fmt.Sprintf("look up member %q", id), err)
			}
			if u != nil {
				email = u.Email
			}
		}
		if email != "" && !slices.Contains(r.res.MemberEmails, email) {
			r.res.MemberEmails = append(r.res.MemberEmails, email)
		}
	}
	slices.Sort(r.res.MemberEmails)
	return nil
}

func (s *Source) getSchedule(ctx context.Context, q Query, id string) (*pagerduty.Schedule, error) {
	cctx, c := withCall(ctx)
	sched, err := s.pd.GetScheduleWithContext(cctx, id, pagerduty.GetScheduleOptions{
		TimeZone: "UTC", Since: rfc3339(q.Since), Until: rfc3339(q.Until),
	})
	if err == nil {
		return sched, nil
	}
	err = s.apiError(ctx, c, "/schedules/"+id, err)
	if ae, ok := errors.AsType[*APIError](err); ok && ae.StatusCode == http.StatusNotFound {
		return nil, &ConfigError{Input: "pagerduty-schedules", Err: err,
			Msg: fmt.Sprintf("schedule %q not found in PagerDuty (GET /schedules/%s answered 404); "+
				"check the ID in the schedule's URL", id, id)}
	}
	return nil, s.fail(fmt.Sprintf("look up schedule %q", id), err)
}

// finalSchedule adds the rendered final schedule's entries and returns how
// many there were. They carry no email: each distinct user is looked up
// once.
func (r *run) finalSchedule(ctx context.Context, id string, sched *pagerduty.Schedule) (int, error) {
	n := 0
	for _, fe := range sched.FinalSchedule.RenderedScheduleEntries {
		uid := fe.User.ID
		r.members[uid] = true
		u, err := r.user(ctx, uid)
		if err != nil {
			return 0, r.s.fail(fmt.Sprintf("look up user %q of schedule %q", uid, id), err)
		}
		if u == nil || u.Email == "" {
			r.warn(uid, "pagerduty user %q of schedule %q has no email, a malformed ID or was deleted; no access given",
				uid, id)
			r.noEmail(Entry{UserID: uid, Name: fe.User.Summary, ScheduleID: id, FinalSchedule: true})
			continue
		}
		e := Entry{UserID: uid, Name: cmp.Or(u.Name, u.Summary), Email: u.Email, ScheduleID: id,
			Start: r.q.Since, End: r.q.Until, FinalSchedule: true}
		if fe.Start != "" {
			if e.Start, err = parseTime(fe.Start); err != nil {
				return 0, fmt.Errorf("read final schedule of %q, start for user %q: %w", id, uid, err)
			}
		}
		if fe.End != "" { // a null end does not end: cut at the window
			if e.End, err = parseTime(fe.End); err != nil {
				return 0, fmt.Errorf("read final schedule of %q, end for user %q: %w", id, uid, err)
			}
		}
		r.res.Entries = append(r.res.Entries, e)
		n++
	}
	return n, nil
}

// apiError turns what go-pagerduty returned into an *APIError, the
// transport error it flattened, or ctx's error.
func (s *Source) apiError(ctx context.Context, c *call, path string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr // go-pagerduty hides it behind %v
	}
	pe, ok := errors.AsType[pagerduty.APIError](err)
	if !ok {
		if c.err != nil {
			return fmt.Errorf("get %s: %w", path, c.err)
		}
		return fmt.Errorf("get %s: %w", path, err) // e.g. an undecodable 2xx body
	}
	return &APIError{Method: http.MethodGet, Path: path, StatusCode: pe.StatusCode,
		Message: describe(pe, c.body, s.token), Attempts: c.attempts, Err: pe}
}

// fail wraps err with what was being done; a rejected token is a
// configuration error whatever the request.
func (s *Source) fail(doing string, err error) error {
	if ae, ok := errors.AsType[*APIError](err); ok &&
		(ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden) {
		return &ConfigError{Input: "pagerduty-token", Err: err, Msg: fmt.Sprintf(
			"pagerduty rejected the token (%s %s answered %d: %s) while trying to %s; "+
				"give a valid REST API key with read access",
			ae.Method, ae.Path, ae.StatusCode, ae.Message, doing)}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// noEmail records, once per user, someone on call who cannot be given access.
func (r *run) noEmail(e Entry) {
	for _, x := range r.res.NoEmail {
		if x.UserID == e.UserID {
			return
		}
	}
	r.res.NoEmail = append(r.res.NoEmail, e)
}

// warn adds a warning about subject, once.
func (r *run) warn(subject, format string, args ...any) {
	r.res.addWarning(Warning{Subject: subject, Message: fmt.Sprintf(format, args...)})
}

func (r *Result) addWarning(w Warning) {
	if !slices.Contains(r.Warnings, w) {
		r.Warnings = append(r.Warnings, w)
	}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
