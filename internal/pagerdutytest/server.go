package pagerdutytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oncall-access/oncall-access/internal/clock"
)

// Request is one request the emulator received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
}

// fault is a scripted answer for the next requests to a path.
type fault struct {
	path   string // exact, or a prefix when it ends in "/"
	times  int    // answers left; negative means forever
	status int
	header http.Header
	body   string
}

// Server is a PagerDuty REST API emulator on a loopback port.
type Server struct {
	ts *httptest.Server

	mu       sync.Mutex // guards the fields below
	token    string
	org      Org
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	latency  time.Duration
	faults   []*fault
	bodies   map[string]string // path → raw 200 body served as-is
	requests []Request
}

// NewServer starts an emulator serving org. Close it when done.
func NewServer(org Org) *Server {
	s := NewUnstartedServer(org)
	s.Start()
	return s
}

// NewUnstartedServer returns an emulator that is not listening yet, so
// that its clock or sleep can be set first; call Start.
func NewUnstartedServer(org Org) *Server {
	s := &Server{
		org:    org,
		now:    time.Now,
		sleep:  clock.Sleep,
		bodies: map[string]string{},
		token:  newToken(),
	}
	s.ts = httptest.NewUnstartedServer(s)
	return s
}

// Start starts listening on a loopback port.
func (s *Server) Start() { s.ts.Start() }

// Close stops the server and waits for requests in flight.
func (s *Server) Close() { s.ts.Close() }

// URL is the base URL, e.g. http://127.0.0.1:41234; paths follow it as on
// https://api.pagerduty.com.
func (s *Server) URL() string { return s.ts.URL }

// Token is the only API key the emulator accepts, sent as
// "Authorization: Token token=<Token>".
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// SetToken replaces the API key the emulator accepts, so that a test can
// look for a value it knows in what a client prints.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

func newToken() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "pdtest_" + hex.EncodeToString(b)
}

// SetOrg replaces the account's content.
func (s *Server) SetOrg(org Org) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org = org
}

// SetClock sets what "now" is, the default for since and until.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetLatency delays every answer by d, through the sleep set by SetSleep.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetSleep replaces the real wait used for latency, e.g. by one that
// records and returns at once.
func (s *Server) SetSleep(sleep func(ctx context.Context, d time.Duration) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sleep = sleep
}

// Fail answers the next times requests whose path is path (or starts with
// it, when it ends in "/", like "/schedules/") with status, header and
// body; times < 0 means forever. An empty body is PagerDuty's error body
// for the status. Faults come after the token check.
func (s *Server) Fail(path string, times int, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{path: path, times: times, status: status, header: header.Clone(), body: body})
}

// ClearFaults drops every fault set by Fail, used up or not.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetBody makes every 200 answer for path (exact) the raw body, whatever
// the query; an empty body goes back to rendering the org.
func (s *Server) SetBody(path, raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if raw == "" {
		delete(s.bodies, path)
		return
	}
	s.bodies[path] = raw
}

// SetOnCallsBody is SetBody("/oncalls", raw), for a case that gives the
// exact body.
func (s *Server) SetOnCallsBody(raw string) { s.SetBody("/oncalls", raw) }

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = Request{Method: r.Method, Path: r.Path, Query: cloneValues(r.Query), Header: r.Header.Clone()}
	}
	return out
}

// Calls counts the requests to path, or under it when it ends in "/".
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if matchPath(path, r.Path) {
			n++
		}
	}
	return n
}

// Total counts every request.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// ResetCounts forgets the requests received so far; faults stay.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func matchPath(pattern, path string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return pattern == path
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ServeHTTP records the request, then applies latency, the token check,
// faults and the route, in that order.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path,
		Query: cloneValues(r.URL.Query()), Header: r.Header.Clone()})
	n := len(s.requests)
	latency, sleep, token := s.latency, s.sleep, s.token
	s.mu.Unlock()

	if latency > 0 {
		if err := sleep(r.Context(), latency); err != nil {
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Token token="+token {
		// No rate-limit headers: the request was not evaluated.
		writeError(w, http.StatusUnauthorized, 2006, "Authentication failed")
		return
	}
	rateLimitHeaders(w.Header(), n)

	if f := s.takeFault(r.URL.Path); f != nil {
		for k, vs := range f.header {
			w.Header()[http.CanonicalHeaderKey(k)] = vs
		}
		if f.body == "" {
			code, msg := defaultError(f.status)
			writeError(w, f.status, code, msg)
			return
		}
		w.WriteHeader(f.status)
		w.Write([]byte(f.body))
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, 2001, "Method Not Allowed")
		return
	}

	s.mu.Lock()
	raw, ok := s.bodies[r.URL.Path]
	s.mu.Unlock()
	if ok {
		w.Write([]byte(raw))
		return
	}
	s.route(w, r)
}

func (s *Server) takeFault(path string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.times != 0 && matchPath(f.path, path) {
			if f.times > 0 {
				f.times--
			}
			return f
		}
	}
	return nil
}

// rateLimitHeaders mimics PagerDuty's headers: 960 requests a minute.
func rateLimitHeaders(h http.Header, n int) {
	h.Set("ratelimit-limit", "960")
	h.Set("ratelimit-remaining", strconv.Itoa(max(0, 960-n)))
	h.Set("ratelimit-reset", "60")
}

// defaultError is PagerDuty's code and message for a status.
func defaultError(status int) (int, string) {
	switch status {
	case http.StatusTooManyRequests:
		return 2020, "Rate Limit Exceeded"
	case http.StatusNotFound:
		return 2100, "Not Found"
	case http.StatusUnauthorized:
		return 2006, "Authentication failed"
	case http.StatusForbidden:
		return 2010, "Access Denied"
	case http.StatusBadRequest:
		return 2001, "Invalid Input Provided"
	}
	return 0, http.StatusText(status)
}
