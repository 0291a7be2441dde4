package pagerdutytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
)

// loadDoc loads PagerDuty's OpenAPI document cut down to the endpoints
// used (a copy of shared/pagerduty/openapi-oncall.json). Examples are not
// validated: one in /schedules/{id} does not match its own schema.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("testdata/openapi-oncall.json")
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("validate OpenAPI document: %v", err)
	}
	return doc
}

// exchange is one request and its answer, as seen by the client.
type exchange struct {
	req    *http.Request
	status int
	header http.Header
	body   []byte
}

// recorder is an http.RoundTripper that keeps every exchange.
type recorder struct {
	mu  sync.Mutex
	got []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.got = append(r.got, exchange{req: req.Clone(context.Background()), status: resp.StatusCode, header: resp.Header.Clone(), body: body})
	r.mu.Unlock()
	return resp, nil
}

// get sends a request the way go-pagerduty does.
func get(t *testing.T, srv *pagerdutytest.Server, token, path string, q url.Values) exchange {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Token token="+token)
	rec := &recorder{}
	resp, err := rec.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return rec.got[0]
}

// route finds the operation for a path without a router, since the
// document's server is api.pagerduty.com, not the emulator.
func route(t *testing.T, doc *openapi3.T, path string) (*routers.Route, map[string]string) {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var tmpl string
	params := map[string]string{}
	switch {
	case len(parts) == 1 && parts[0] == "oncalls":
		tmpl = "/oncalls"
	case len(parts) == 2 && parts[0] == "schedules":
		tmpl, params["id"] = "/schedules/{id}", parts[1]
	case len(parts) == 3 && parts[0] == "schedules" && parts[2] == "users":
		tmpl, params["id"] = "/schedules/{id}/users", parts[1]
	case len(parts) == 2 && parts[0] == "users":
		tmpl, params["id"] = "/users/{id}", parts[1]
	default:
		t.Fatalf("no operation in the document for %s", path)
	}
	item := doc.Paths.Value(tmpl)
	return &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: http.MethodGet, Operation: item.Get}, params
}

// validate checks a request and its answer against the document, after
// adapting the body for the known differences (see knownDifferences).
func validate(t *testing.T, doc *openapi3.T, x exchange) {
	t.Helper()
	rt, params := route(t, doc, x.req.URL.Path)
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		// The document's api_key scheme: Authorization: Token token=<key>.
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Token token=") {
				return errors.New("no Token token= authorization")
			}
			return nil
		},
	}
	in := &openapi3filter.RequestValidationInput{Request: x.req, PathParams: params, Route: rt, Options: opts}
	if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
		t.Errorf("request GET %s?%s does not match the document: %v", x.req.URL.Path, x.req.URL.RawQuery, err)
	}
	body := knownDifferences(t, doc, x)
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: x.status, Header: x.header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("answer %d to GET %s does not match the document: %v\nbody: %s", x.status, x.req.URL.Path, err, x.body)
	}
}

// knownDifferences checks, then removes, what the real API does and the
// document does not allow (pagerduty/README.md), so that the rest of the
// body is validated as documented:
//   - with include[]=users, an on-call's user is a full User: it is
//     validated against components.schemas.User, then reduced to a
//     reference;
//   - start, end and schedule of an on-call can be null, and so can a
//     final schedule entry's end: those nulls are dropped.
//
// The page-size default and cap and the rate-limit headers are checked in
// TestKnownDifferences.
func knownDifferences(t *testing.T, doc *openapi3.T, x exchange) []byte {
	t.Helper()
	if x.status != http.StatusOK {
		return x.body
	}
	var body map[string]any
	if err := json.Unmarshal(x.body, &body); err != nil {
		t.Fatalf("answer to %s is not JSON: %v", x.req.URL.Path, err)
	}
	userSchema := doc.Components.Schemas["User"].Value
	if rows, ok := body["oncalls"].([]any); ok {
		for _, r := range rows {
			row := r.(map[string]any)
			if u := row["user"].(map[string]any); u["type"] == "user" {
				if err := userSchema.VisitJSON(u); err != nil {
					t.Errorf("on-call user %v is not a User: %v", u["id"], err)
				}
				row["user"] = map[string]any{"id": u["id"], "type": "user_reference", "summary": u["summary"], "self": u["self"], "html_url": u["html_url"]}
			}
			for _, k := range []string{"start", "end", "schedule"} {
				if row[k] == nil {
					delete(row, k)
				}
			}
		}
	}
	if s, ok := body["schedule"].(map[string]any); ok {
		if fs, ok := s["final_schedule"].(map[string]any); ok {
			entries, _ := fs["rendered_schedule_entries"].([]any)
			for _, e := range entries {
				if e := e.(map[string]any); e["end"] == nil {
					// The document requires a string; null means "never ends".
					e["end"] = e["start"]
				}
			}
		}
	}
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var now = time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)

func startOrg(t *testing.T) *pagerdutytest.Server {
	t.Helper()
	org, err := pagerdutytest.LoadOrg("testdata/org.json")
	if err != nil {
		t.Fatalf("LoadOrg: %v", err)
	}
	srv := pagerdutytest.NewServer(org)
	srv.SetClock(func() time.Time { return now })
	t.Cleanup(srv.Close)
	return srv
}

// TestOpenAPI validates every kind of request and answer of the emulator
// against PagerDuty's OpenAPI document.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	window := url.Values{"since": {"2026-03-06T12:00:00Z"}, "until": {"2026-03-07T12:00:00Z"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		path   string
		q      url.Values
		token  string // "" = the right one
		fail   int    // status to inject, 0 = none
		status int
	}{
		{"oncalls page 1 of 3", "/oncalls", with(window, "limit", "1", "include[]", "users", "time_zone", "UTC"), "", 0, 200},
		{"oncalls page 2", "/oncalls", with(window, "limit", "1", "offset", "1", "include[]", "users"), "", 0, 200},
		{"oncalls last page", "/oncalls", with(window, "limit", "2", "offset", "2", "include[]", "users", "total", "true"), "", 0, 200},
		{"oncalls references, New York", "/oncalls", with(window, "time_zone", "America/New_York"), "", 0, 200},
		{"oncalls filtered", "/oncalls", with(window, "schedule_ids[]", "PSCHED1", "escalation_policy_ids[]", "PEP0001", "escalation_policy_ids[]", "PEP0002", "user_ids[]", "PALICE1", "earliest", "true"), "", 0, 200},
		{"oncalls no window", "/oncalls", url.Values{}, "", 0, 200},
		{"oncalls 400 until before since", "/oncalls", url.Values{"since": {"2026-03-07T12:00:00Z"}, "until": {"2026-03-06T12:00:00Z"}}, "", 0, 400},
		{"oncalls 400 beyond 90 days", "/oncalls", url.Values{"since": {"2026-03-06T12:00:00Z"}, "until": {"2026-06-06T12:00:00Z"}}, "", 0, 400},
		{"oncalls 400 bad time zone", "/oncalls", url.Values{"time_zone": {"Mars/Olympus"}}, "", 0, 400},
		{"oncalls 401", "/oncalls", window, "wrong", 0, 401},
		{"oncalls 429", "/oncalls", window, "", 429, 429},
		{"schedule with window", "/schedules/PSCHED1", with(window, "time_zone", "UTC"), "", 0, 200},
		{"schedule open-ended final entry", "/schedules/PLONE01", window, "", 0, 200},
		{"schedule without window", "/schedules/PSCHED1", url.Values{}, "", 0, 200},
		{"schedule 404", "/schedules/PNOPE01", window, "", 0, 404},
		{"schedule 401", "/schedules/PSCHED1", window, "wrong", 0, 401},
		{"schedule 429", "/schedules/PSCHED1", window, "", 429, 429},
		{"schedule users with window", "/schedules/PSCHED1/users", window, "", 0, 200},
		{"schedule users without window", "/schedules/PSCHED1/users", url.Values{}, "", 0, 200},
		{"schedule users 404", "/schedules/PNOPE01/users", window, "", 0, 404},
		{"user", "/users/PALICE1", url.Values{}, "", 0, 200},
		{"user 404 deleted", "/users/PGHOST1", url.Values{}, "", 0, 404},
		{"user 401", "/users/PALICE1", url.Values{}, "wrong", 0, 401},
		{"user 429", "/users/PALICE1", url.Values{}, "", 429, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startOrg(t)
			if tt.fail != 0 {
				srv.Fail(tt.path, 1, tt.fail, http.Header{"ratelimit-reset": {"2"}}, "")
			}
			token := srv.Token()
			if tt.token != "" {
				token = tt.token
			}
			x := get(t, srv, token, tt.path, tt.q)
			if x.status != tt.status {
				t.Fatalf("GET %s?%s = %d, want %d: %s", tt.path, tt.q.Encode(), x.status, tt.status, x.body)
			}
			validate(t, doc, x)
		})
	}
}

// TestOpenAPISource validates what the real source sends and gets, on a
// run that reaches every endpoint it uses.
func TestOpenAPISource(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	srv := startOrg(t)
	rec := &recorder{}
	src, err := oncall.New(oncall.Config{BaseURL: srv.URL(), Token: srv.Token(), Transport: rec})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	q := oncall.Query{Schedules: []string{"PSCHED1", "PLONE01"}, Policies: []string{"PEP0002"},
		Since: now, Until: now.Add(24 * time.Hour), Members: true}
	if _, err := src.OnCall(t.Context(), q); err != nil {
		t.Fatalf("OnCall: %v", err)
	}
	paths := map[string]bool{}
	for _, x := range rec.got {
		paths[x.req.URL.Path] = true
		validate(t, doc, x)
	}
	for _, p := range []string{"/oncalls", "/schedules/PSCHED1", "/schedules/PLONE01", "/users/PBOB001"} {
		if !paths[p] {
			t.Errorf("the source sent no request to %s; got %v", p, paths)
		}
	}
}
