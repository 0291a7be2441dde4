package strongdm_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// t0 is the emulator's and the clients' time in these tests.
var t0 = time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)

var org = strongdmtest.Org{
	Resources: []strongdmtest.Resource{
		{ID: "rs-1", Name: "prod db", Type: "postgres", Tags: map[string]string{"oncall": "true"}},
		{ID: "rs-2", Name: "bastion", Type: "ssh"},
	},
	Accounts: []strongdmtest.Account{
		{ID: "a-1", Kind: "user", Email: "alice@example.com", FirstName: "Alice", LastName: "Example"},
		{ID: "a-2", Kind: "service", Name: "ci-bot"},
	},
}

// sleeps records the waits of a client instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// setup starts an emulator at t0 and a client of it that never really
// sleeps and uses mid-range jitter.
func setup(t *testing.T, edit func(*strongdm.Config)) (*strongdmtest.Server, *strongdm.Client, *sleeps) {
	t.Helper()
	srv, err := strongdmtest.NewServer(org)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.SetClock(func() time.Time { return t0 })

	sl := &sleeps{}
	cfg := strongdm.Config{
		Host:      srv.Addr(),
		AccessKey: srv.AccessKey(),
		SecretKey: srv.SecretKey(),
		RootCAs:   srv.CertPool(),
		Now:       func() time.Time { return t0 },
		Sleep:     sl.sleep,
		Rand:      func() float64 { return 0.5 },
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := strongdm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c, sl
}

// Ensure the client sends what the official SDK sent, byte for byte, for
// each call recorded in testdata/sdk-requests.json.
func TestSDKRequests(t *testing.T) {
	t.Parallel()
	var rec struct {
		SigningDate string `json:"signing_date"`
		Calls       []struct {
			FullMethod string            `json:"full_method"`
			Metadata   map[string]string `json:"metadata"`
			RequestHex string            `json:"request_hex"`
		} `json:"calls"`
	}
	b, err := os.ReadFile("testdata/sdk-requests.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	day, err := time.Parse(time.DateOnly, rec.SigningDate)
	if err != nil {
		t.Fatal(err)
	}
	now := day.Add(15 * time.Hour)

	const rs, acc = "rs-0a1b2c3d4e5f6071", "a-7a6b5c4d3e2f1001"
	srv, err := strongdmtest.NewServer(strongdmtest.Org{
		Resources: []strongdmtest.Resource{{ID: rs, Name: "prod db", Type: "postgres", Tags: map[string]string{"oncall": "true"}}},
		Accounts:  []strongdmtest.Account{{ID: acc, Kind: "user", Email: "alice@example.com"}, {ID: "a-2", Kind: "user", Email: "bob@example.com"}},
		Grants:    []strongdmtest.Grant{{ID: "ag-00000000000000aa", ResourceID: rs, AccountID: acc}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// The SDK's keys, so the emulator checks the SDK's signatures too.
	if err := srv.SetKeys("auth-0123456789abcdef", "ZXhhbXBsZS1zZWNyZXQta2V5LW5vdC1yZWFsLTAxMjM="); err != nil {
		t.Fatal(err)
	}
	srv.SetClock(func() time.Time { return now })
	srv.AllowMultipleGrants(true)
	c, err := strongdm.New(strongdm.Config{
		Host: srv.Addr(), AccessKey: "auth-0123456789abcdef", SecretKey: "ZXhhbXBsZS1zZWNyZXQta2V5LW5vdC1yZWFsLTAxMjM=\n",
		RootCAs: srv.CertPool(), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The same calls, in the recorded order, with filters built as the SDK
	// builds them.
	ctx := t.Context()
	q := func(tmpl string, args ...any) string {
		f, err := strongdm.QuoteFilter(tmpl, args...)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	calls := []func() error{
		func() error {
			_, err := c.CreateGrant(ctx, strongdm.Grant{ResourceID: rs, AccountID: acc,
				Start: time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)})
			return err
		},
		func() error { _, err := c.ListGrants(ctx, q("resourceid:?", rs)); return err },
		func() error { _, err := c.ListAccounts(ctx, q("email:?", "Alice@Example.com")); return err },
		func() error { _, err := c.ListResources(ctx, q("name:?", "prod db")); return err },
		func() error { _, err := c.ListResources(ctx, q("tag:?=?", "oncall", "true")); return err },
		func() error { _, err := c.ListAccounts(ctx, q("type:user,email:?", "bob@example.com")); return err },
		func() error { _, err := c.ListAccountResources(ctx, q("accountid:?", acc)); return err },
		func() error { return c.DeleteGrant(ctx, "ag-00000000000000aa") },
	}
	if len(calls) != len(rec.Calls) {
		t.Fatalf("test makes %d calls, the recording has %d", len(calls), len(rec.Calls))
	}
	for i, call := range calls {
		if err := call(); err != nil {
			t.Errorf("call %d (%s): %v", i, rec.Calls[i].FullMethod, err)
		}
	}

	got := srv.Requests()
	if len(got) != len(rec.Calls) {
		t.Fatalf("emulator received %d requests, want %d", len(got), len(rec.Calls))
	}
	for i, want := range rec.Calls {
		if got[i].Method != want.FullMethod {
			t.Errorf("request %d method = %s, want %s", i, got[i].Method, want.FullMethod)
		}
		if h := hex.EncodeToString(got[i].Body); h != want.RequestHex {
			t.Errorf("request %d (%s) body = %s, want %s", i, want.FullMethod, h, want.RequestHex)
		}
		if fmt.Sprint(got[i].Metadata) != fmt.Sprint(want.Metadata) {
			t.Errorf("request %d (%s) x-sdm metadata = %v, want %v", i, want.FullMethod, got[i].Metadata, want.Metadata)
		}
	}
}

// Ensure transient codes are retried with growing waits, and others not.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	s := time.Second
	tests := []struct {
		name      string
		code      codes.Code
		failures  int
		wantCalls int
		wantWaits []time.Duration
		wantErr   bool
	}{
		{"unavailable recovers", codes.Unavailable, 3, 4, []time.Duration{s, 2 * s, 4 * s}, false},
		{"internal recovers", codes.Internal, 1, 2, []time.Duration{s}, false},
		{"deadline exceeded recovers", codes.DeadlineExceeded, 2, 3, []time.Duration{s, 2 * s}, false},
		{"unavailable gives up after max attempts", codes.Unavailable, 4, 4, []time.Duration{s, 2 * s, 4 * s}, true},
		{"unauthenticated not retried", codes.Unauthenticated, 1, 1, nil, true},
		{"permission denied not retried", codes.PermissionDenied, 1, 1, nil, true},
		{"invalid argument not retried", codes.InvalidArgument, 1, 1, nil, true},
		{"not found not retried", codes.NotFound, 1, 1, nil, true},
		{"already exists not retried", codes.AlreadyExists, 1, 1, nil, true},
		{"canceled not retried", codes.Canceled, 1, 1, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, sl := setup(t, nil)
			srv.Fail("AccountGrants.List", tt.failures, tt.code)

			_, err := c.ListGrants(t.Context(), "accountid:a-1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("ListGrants error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strongdm.IsCode(err, tt.code) {
				t.Errorf("ListGrants error %v: code is not %v", err, tt.code)
			}
			if got := srv.Calls("AccountGrants.List"); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if got := sl.got(); fmt.Sprint(got) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			if reads, writes := c.Calls(); reads != tt.wantCalls || writes != 0 {
				t.Errorf("Calls() = %d, %d, want %d, 0", reads, writes, tt.wantCalls)
			}
		})
	}
}

// Ensure ResourceExhausted waits until reset_at without using up the
// transient budget, is bounded, and never waits past the deadline.
func TestRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("waits until reset", func(t *testing.T) {
		t.Parallel()
		srv, c, sl := setup(t, nil)
		srv.Fail("Resources.List", 5, codes.ResourceExhausted, strongdmtest.WithRateLimit(t0.Add(7*time.Second)))
		srv.Fail("Resources.List", 3, codes.Unavailable)
		if _, err := c.ListResources(t.Context(), ""); err != nil {
			t.Fatalf("ListResources: %v", err)
		}
		want := "[7s 7s 7s 7s 7s 1s 2s 4s]"
		if got := fmt.Sprint(sl.got()); got != want {
			t.Errorf("waits = %s, want %s", got, want)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		srv, c, _ := setup(t, nil)
		srv.Fail("Resources.List", -1, codes.ResourceExhausted, strongdmtest.WithRateLimit(t0.Add(time.Second)))
		_, err := c.ListResources(t.Context(), "")
		if !strongdm.IsCode(err, codes.ResourceExhausted) {
			t.Fatalf("ListResources error = %v, want ResourceExhausted", err)
		}
		if got := srv.Calls("Resources.List"); got != 11 {
			t.Errorf("calls = %d, want 11", got)
		}
	})

	t.Run("reset after the deadline fails now", func(t *testing.T) {
		t.Parallel()
		srv, c, sl := setup(t, nil)
		srv.Fail("Resources.List", 1, codes.ResourceExhausted, strongdmtest.WithRateLimit(t0.Add(5*time.Minute)))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := c.ListResources(ctx, "")
		if !strongdm.IsCode(err, codes.ResourceExhausted) || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("ListResources error = %v, want ResourceExhausted naming the deadline", err)
		}
		if got := sl.got(); len(got) != 0 {
			t.Errorf("waits = %v, want none", got)
		}
	})

	t.Run("no detail falls back to backoff", func(t *testing.T) {
		t.Parallel()
		srv, c, sl := setup(t, nil)
		srv.Fail("Resources.List", 2, codes.ResourceExhausted)
		if _, err := c.ListResources(t.Context(), ""); err != nil {
			t.Fatalf("ListResources: %v", err)
		}
		if got, want := fmt.Sprint(sl.got()), "[1s 2s]"; got != want {
			t.Errorf("waits = %s, want %s", got, want)
		}
	})
}

// Ensure a wait is cut short by cancellation, and a backoff that would pass
// the deadline is not started.
func TestRetryContext(t *testing.T) {
	t.Parallel()

	t.Run("canceled while waiting", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		srv, c, _ := setup(t, func(cfg *strongdm.Config) {
			cfg.Sleep = func(ctx context.Context, d time.Duration) error {
				cancel()
				return ctx.Err()
			}
		})
		srv.Fail("Accounts.List", 1, codes.Unavailable)
		_, err := c.ListAccounts(ctx, "")
		if !errors.Is(err, context.Canceled) || !strongdm.IsCode(err, codes.Unavailable) {
			t.Errorf("ListAccounts error = %v, want context.Canceled wrapping Unavailable", err)
		}
	})

	t.Run("backoff past the deadline", func(t *testing.T) {
		t.Parallel()
		srv, c, sl := setup(t, nil)
		srv.Fail("Accounts.List", 1, codes.Unavailable)
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		if _, err := c.ListAccounts(ctx, ""); !strongdm.IsCode(err, codes.Unavailable) {
			t.Errorf("ListAccounts error = %v, want Unavailable", err)
		}
		if got := sl.got(); len(got) != 0 {
			t.Errorf("waits = %v, want none", got)
		}
	})
}

// Ensure a create that was stored but timed out, then retried, reports
// ALREADY_EXISTS distinguishably, while a plain duplicate does not.
func TestCreateAfterTimeout(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t, nil)
	srv.Fail("AccountGrants.Create", 1, codes.DeadlineExceeded, strongdmtest.ApplyThenFail())

	g := strongdm.Grant{ResourceID: "rs-1", AccountID: "a-1", End: t0.Add(time.Hour)}
	_, err := c.CreateGrant(t.Context(), g)
	if !errors.Is(err, strongdm.ErrExistsAfterRetry) || !strongdm.IsCode(err, codes.AlreadyExists) {
		t.Fatalf("CreateGrant after a timeout: error = %v, want ErrExistsAfterRetry and AlreadyExists", err)
	}
	if got := len(srv.Grants()); got != 1 {
		t.Errorf("emulator holds %d grants, want 1", got)
	}

	_, err = c.CreateGrant(t.Context(), g)
	if errors.Is(err, strongdm.ErrExistsAfterRetry) || !strongdm.IsCode(err, codes.AlreadyExists) {
		t.Errorf("second CreateGrant: error = %v, want a plain AlreadyExists", err)
	}
}

// Ensure a PermissionDenied error names the call, its input and the
// permission it needs.
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		call   func(context.Context, *strongdm.Client) error
		want   []string
	}{
		{"AccountGrants.Create", func(ctx context.Context, c *strongdm.Client) error {
			_, err := c.CreateGrant(ctx, strongdm.Grant{ResourceID: "rs-1", AccountID: "a-1"})
			return err
		}, []string{"create grant of resource rs-1 to account a-1", "grant:write"}},
		{"AccountGrants.Delete", func(ctx context.Context, c *strongdm.Client) error {
			return c.DeleteGrant(ctx, "ag-9")
		}, []string{"delete grant ag-9", "grant:write"}},
		{"AccountGrants.List", func(ctx context.Context, c *strongdm.Client) error {
			_, err := c.ListGrants(ctx, "accountid:a-1")
			return err
		}, []string{`list grants with filter "accountid:a-1"`, "grant:read"}},
		{"Resources.List", func(ctx context.Context, c *strongdm.Client) error {
			_, err := c.ListResources(ctx, "name:x")
			return err
		}, []string{`list resources with filter "name:x"`, "datasource:list"}},
		{"Accounts.List", func(ctx context.Context, c *strongdm.Client) error {
			_, err := c.ListAccounts(ctx, "email:x")
			return err
		}, []string{`list accounts with filter "email:x"`, "user:list"}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := setup(t, nil)
			srv.Fail(tt.method, 1, codes.PermissionDenied)
			err := tt.call(t.Context(), c)
			if !strongdm.IsCode(err, codes.PermissionDenied) {
				t.Fatalf("%s error = %v, want PermissionDenied", tt.method, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s error %q does not say %q", tt.method, err, w)
				}
			}
		})
	}
}

// Ensure bad keys are rejected once, not retried, and never shown.
func TestBadKeys(t *testing.T) {
	t.Parallel()
	const secret = "c2VjcmV0LXRoYXQtaXMtd3Jvbmc="
	var logs bytes.Buffer
	srv, c, _ := setup(t, func(cfg *strongdm.Config) {
		cfg.SecretKey = secret
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	_, err := c.ListResources(t.Context(), "")
	if !strongdm.IsCode(err, codes.Unauthenticated) {
		t.Fatalf("ListResources with a wrong secret: error = %v, want Unauthenticated", err)
	}
	if got := srv.Calls("Resources.List"); got != 1 {
		t.Errorf("calls = %d, want 1", got)
	}
	if logs.Len() == 0 {
		t.Error("no debug line logged")
	}
	for _, out := range []string{err.Error(), logs.String()} {
		if strings.Contains(out, secret) || strings.Contains(out, srv.AccessKey()) {
			t.Errorf("output shows a key: %s", out)
		}
	}
}

// Ensure New rejects bad configuration without echoing secrets.
func TestNewInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  strongdm.Config
	}{
		{"no host", strongdm.Config{AccessKey: "ak", SecretKey: "AAEC"}},
		{"no access key", strongdm.Config{Host: "h:443", SecretKey: "AAEC"}},
		{"bad secret", strongdm.Config{Host: "h:443", AccessKey: "ak", SecretKey: "not*base64!"}},
		{"negative attempts", strongdm.Config{Host: "h:443", AccessKey: "ak", SecretKey: "AAEC", MaxAttempts: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := strongdm.New(tt.cfg)
			if err == nil {
				c.Close()
				t.Fatalf("New(%s) succeeded, want an error", tt.name)
			}
			if tt.cfg.SecretKey != "" && strings.Contains(err.Error(), tt.cfg.SecretKey) {
				t.Errorf("New error %q shows the secret", err)
			}
		})
	}
}

// Ensure lists follow cursors, also past empty pages.
func TestListPaging(t *testing.T) {
	t.Parallel()
	big := strongdmtest.Org{}
	for i := range 7 {
		big.Resources = append(big.Resources, strongdmtest.Resource{ID: fmt.Sprintf("rs-%d", i), Name: fmt.Sprintf("db-%d", i), Type: "mysql"})
	}
	big.Resources[6].Name = "other"

	tests := []struct {
		name        string
		pageFirst   bool
		filter      string
		wantN       int
		wantCalls   int
		wantPageErr bool
	}{
		{"all", false, "", 7, 3, false},
		{"filtered", false, "name:db-*", 6, 2, false},
		{"empty pages in between", true, "name:other", 1, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := setup(t, func(cfg *strongdm.Config) { cfg.PageLimit = 3 })
			if err := srv.SetOrg(big); err != nil {
				t.Fatal(err)
			}
			srv.PageBeforeFilter(tt.pageFirst)
			got, err := c.ListResources(t.Context(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantN {
				t.Errorf("ListResources(%q) = %d resources, want %d", tt.filter, len(got), tt.wantN)
			}
			if calls := srv.Calls("Resources.List"); calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

// Ensure a create without start leaves it out, so the server starts the
// grant now, and that the answer comes back whole.
func TestCreateGrantUnsetStart(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t, nil)
	got, err := c.CreateGrant(t.Context(), strongdm.Grant{ResourceID: "rs-2", AccountID: "a-1", End: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.ID, "ag-") || !got.Start.Equal(t0) || !got.End.Equal(t0.Add(time.Hour)) ||
		got.ResourceID != "rs-2" || got.AccountID != "a-1" {
		t.Errorf("CreateGrant = %+v, want a grant from %v to %v", got, t0, t0.Add(time.Hour))
	}
	list, err := c.ListGrants(t.Context(), "")
	if err != nil || len(list) != 1 || list[0].ID != got.ID {
		t.Errorf("ListGrants = %+v, %v, want the created grant", list, err)
	}
	if err := c.DeleteGrant(t.Context(), got.ID); err != nil {
		t.Errorf("DeleteGrant(%s): %v", got.ID, err)
	}
	if n := len(srv.Grants()); n != 0 {
		t.Errorf("after delete the emulator holds %d grants", n)
	}
}
