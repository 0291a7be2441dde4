package strongdmtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// t0 is the emulator's time in these tests, when ag-1 is running and ag-2
// has not started.
var t0 = time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)

// setup starts an emulator loaded with testdata/org.json at t0, and a
// client of it that does not retry.
func setup(t *testing.T) (*strongdmtest.Server, *strongdm.Client) {
	t.Helper()
	org, err := strongdmtest.LoadOrg("testdata/org.json")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := strongdmtest.NewServer(org)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.SetClock(func() time.Time { return t0 })
	return srv, newClient(t, srv, func(*strongdm.Config) {})
}

func newClient(t *testing.T, srv *strongdmtest.Server, edit func(*strongdm.Config)) *strongdm.Client {
	t.Helper()
	cfg := strongdm.Config{
		Host: srv.Addr(), AccessKey: srv.AccessKey(), SecretKey: srv.SecretKey(), RootCAs: srv.CertPool(),
		Now: func() time.Time { return t0 }, MaxAttempts: 1,
		Sleep: func(context.Context, time.Duration) error { return errors.New("no waiting in emulator tests") },
	}
	edit(&cfg)
	c, err := strongdm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ids[T any](items []T, id func(T) string) string {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	return strings.Join(out, " ")
}

func TestFilters(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	_ = srv
	resID := func(r strongdm.Resource) string { return r.ID }
	accID := func(a strongdm.Account) string { return a.ID }
	grantID := func(g strongdm.Grant) string { return g.ID }

	tests := []struct {
		name   string
		list   func(ctx context.Context, filter string) (string, error)
		filter string
		want   string
	}{
		{"all resources", listOf(c.ListResources, resID), "", "rs-1 rs-2 rs-3 rs-4"},
		{"name quoted", listOf(c.ListResources, resID), `name:"prod db"`, "rs-1"},
		{"name ignores case", listOf(c.ListResources, resID), `name:"staging db"`, "rs-2"},
		{"name wildcard", listOf(c.ListResources, resID), "name:*prod*", "rs-1 rs-4"},
		{"type", listOf(c.ListResources, resID), "type:postgres", "rs-1 rs-2"},
		{"type in sdk spelling", listOf(c.ListResources, resID), "type:amazonEKS", "rs-4"},
		{"tag", listOf(c.ListResources, resID), `tag:"oncall"="true"`, "rs-1"},
		{"tag and type", listOf(c.ListResources, resID), `tag:env=prod type:ssh`, "rs-3"},
		{"id alternatives", listOf(c.ListResources, resID), "id:rs-1,id:rs-3", "rs-1 rs-3"},
		{"id alternatives and name", listOf(c.ListResources, resID), "id:rs-1 id:rs-3 name:bastion*", "rs-3"},
		{"no match", listOf(c.ListResources, resID), "name:nothing", ""},
		{"email ignores case", listOf(c.ListAccounts, accID), `email:"bob@example.com"`, "a-2"},
		{"email wildcard", listOf(c.ListAccounts, accID), "email:*@EXAMPLE.com", "a-1 a-2"},
		{"type user and email", listOf(c.ListAccounts, accID), `type:user,email:"alice@example.com"`, "a-1"},
		{"type service", listOf(c.ListAccounts, accID), "type:service", "a-3"},
		{"suspended", listOf(c.ListAccounts, accID), "suspended:true", "a-2"},
		{"first name", listOf(c.ListAccounts, accID), "firstname:alice", "a-1"},
		{"grants of account", listOf(c.ListGrants, grantID), `accountid:"a-1"`, "ag-1"},
		{"grants of resource, underscore", listOf(c.ListGrants, grantID), "resource_id:rs-1", "ag-2"},
		{"grant pair", listOf(c.ListGrants, grantID), "resourceid:rs-3,accountid:a-1", "ag-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.list(t.Context(), tt.filter)
			if err != nil || got != tt.want {
				t.Errorf("list(%q) = %q, %v, want %q", tt.filter, got, err, tt.want)
			}
		})
	}
}

func listOf[T any](list func(context.Context, string) ([]T, error), id func(T) string) func(context.Context, string) (string, error) {
	return func(ctx context.Context, filter string) (string, error) {
		items, err := list(ctx, filter)
		return ids(items, id), err
	}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	for _, filter := range []string{"hostname:x", `name:"unterminated`, "justtext", "tag:k=v"} {
		_, err := c.ListAccounts(t.Context(), filter)
		if !strongdm.IsCode(err, codes.InvalidArgument) {
			t.Errorf("ListAccounts(%q) error = %v, want InvalidArgument", filter, err)
		}
	}
}

func TestListedFields(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	res, err := c.ListResources(t.Context(), "id:rs-1")
	if err != nil || len(res) != 1 || res[0].Name != "prod db" || res[0].Type != "postgres" ||
		res[0].Tags["env"] != "prod" || res[0].Tags["oncall"] != "true" {
		t.Errorf("ListResources(id:rs-1) = %+v, %v", res, err)
	}
	eks, err := c.ListResources(t.Context(), "id:rs-4")
	if err != nil || len(eks) != 1 || eks[0].Type != "amazon_eks" {
		t.Errorf("ListResources(id:rs-4) = %+v, %v, want type amazon_eks", eks, err)
	}
	accs, err := c.ListAccounts(t.Context(), "")
	want := []strongdm.Account{
		{ID: "a-1", Kind: "user", Email: "alice@example.com", FirstName: "Alice", LastName: "Example"},
		{ID: "a-2", Kind: "user", Email: "Bob@Example.com", FirstName: "Bob", LastName: "Builder", Suspended: true},
		{ID: "a-3", Kind: "service", Name: "ci-bot"},
		{ID: "a-4", Kind: "token", Name: "terraform"},
	}
	if err != nil || !slices.Equal(accs, want) {
		t.Errorf("ListAccounts = %+v, %v, want %+v", accs, err, want)
	}
	grants, err := c.ListGrants(t.Context(), "id:ag-1")
	wantStart, wantEnd := time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	if err != nil || len(grants) != 1 || !grants[0].Start.Equal(wantStart) || !grants[0].End.Equal(wantEnd) ||
		grants[0].AccessRequestID != "ar-1" {
		t.Errorf("ListGrants(id:ag-1) = %+v, %v", grants, err)
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	org := strongdmtest.Org{}
	for i := range 120 {
		org.Resources = append(org.Resources, strongdmtest.Resource{ID: fmt.Sprintf("rs-%03d", i), Name: fmt.Sprint(i), Type: "ssh"})
	}
	tests := []struct {
		name      string
		limit     int
		wantCalls int
	}{
		{"server default of 50", 0, 3},
		{"limit 7", 7, 18},
		{"limit above the total", 500, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := strongdmtest.NewServer(org)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c := newClient(t, srv, func(cfg *strongdm.Config) { cfg.Now = nil; cfg.PageLimit = tt.limit })
			got, err := c.ListResources(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 120 || got[0].ID != "rs-000" || got[119].ID != "rs-119" {
				t.Errorf("ListResources = %d resources from %v", len(got), got[:min(len(got), 1)])
			}
			if calls := srv.Calls("Resources.List"); calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestGrantRules(t *testing.T) {
	t.Parallel()

	t.Run("one unexpired grant per pair", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t)
		// ag-1 holds rs-3 for a-1.
		_, err := c.CreateGrant(t.Context(), strongdm.Grant{ResourceID: "rs-3", AccountID: "a-1", End: t0.Add(time.Hour)})
		if !strongdm.IsCode(err, codes.AlreadyExists) || !strings.Contains(err.Error(), "account grant already exists") {
			t.Errorf("CreateGrant of a held pair: error = %v, want AlreadyExists", err)
		}
	})

	t.Run("several when allowed", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.AllowMultipleGrants(true)
		if _, err := c.CreateGrant(t.Context(), strongdm.Grant{ResourceID: "rs-3", AccountID: "a-1"}); err != nil {
			t.Fatal(err)
		}
		got, err := c.ListGrants(t.Context(), "accountid:a-1 resourceid:rs-3")
		if err != nil || len(got) != 2 {
			t.Errorf("ListGrants = %+v, %v, want two", got, err)
		}
	})

	t.Run("expired grants are dropped", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		later := t0.Add(4 * time.Hour) // after ag-1's end
		srv.SetClock(func() time.Time { return later })
		c = newClient(t, srv, func(cfg *strongdm.Config) { cfg.Now = func() time.Time { return later } })
		got, err := c.ListGrants(t.Context(), "")
		if err != nil || ids(got, func(g strongdm.Grant) string { return g.ID }) != "ag-2 ag-0000000000000001" {
			t.Errorf("ListGrants = %+v, %v, want ag-2 and the generated one", got, err)
		}
		if _, err := c.CreateGrant(t.Context(), strongdm.Grant{ResourceID: "rs-3", AccountID: "a-1"}); err != nil {
			t.Errorf("CreateGrant after the old one expired: %v", err)
		}
	})

	t.Run("start defaults to now", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t)
		g, err := c.CreateGrant(t.Context(), strongdm.Grant{ResourceID: "rs-2", AccountID: "a-1"})
		if err != nil || !g.Start.Equal(t0) || !g.End.IsZero() || !strings.HasPrefix(g.ID, "ag-") {
			t.Errorf("CreateGrant = %+v, %v, want start %v and no end", g, err, t0)
		}
	})

	t.Run("unknown account or resource", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t)
		for _, g := range []strongdm.Grant{{ResourceID: "rs-9", AccountID: "a-1"}, {ResourceID: "rs-1", AccountID: "a-9"}} {
			if _, err := c.CreateGrant(t.Context(), g); !strongdm.IsCode(err, codes.NotFound) {
				t.Errorf("CreateGrant(%+v) error = %v, want NotFound", g, err)
			}
		}
	})

	t.Run("delete unknown", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t)
		if err := c.DeleteGrant(t.Context(), "ag-404"); !strongdm.IsCode(err, codes.NotFound) {
			t.Errorf("DeleteGrant(ag-404) error = %v, want NotFound", err)
		}
	})
}

func TestAccountResources(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	got, err := c.ListAccountResources(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	// The role row, ag-1 (running) and a-3's grant; ag-2 has not started.
	want := []strongdm.AccountResource{
		{AccountID: "a-1", ResourceID: "rs-1", RoleID: "r-1"},
		{AccountID: "a-1", ResourceID: "rs-3", GrantID: "ag-1", ExpiresAt: time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)},
	}
	if len(got) != 3 || got[0] != want[0] || got[1].GrantID != want[1].GrantID || !got[1].ExpiresAt.Equal(want[1].ExpiresAt) ||
		got[2].AccountID != "a-3" || got[2].GrantID == "" {
		t.Errorf("ListAccountResources = %+v, want %+v and a-3's grant", got, want)
	}
	byAccount, err := c.ListAccountResources(t.Context(), "account_id:a-1 roleid:r-1")
	if err != nil || len(byAccount) != 1 || byAccount[0] != want[0] {
		t.Errorf("ListAccountResources(account_id:a-1 roleid:r-1) = %+v, %v", byAccount, err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	tests := []struct {
		name string
		edit func(*strongdm.Config)
	}{
		{"wrong access key", func(cfg *strongdm.Config) { cfg.AccessKey = "auth-wrong" }},
		{"wrong secret", func(cfg *strongdm.Config) { cfg.SecretKey = "AAECAwQF" }},
		{"signed on another day", func(cfg *strongdm.Config) { cfg.Now = func() time.Time { return t0.Add(24 * time.Hour) } }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv, tt.edit)
			if _, err := c.ListResources(t.Context(), ""); !strongdm.IsCode(err, codes.Unauthenticated) {
				t.Errorf("ListResources error = %v, want Unauthenticated", err)
			}
		})
	}
}

// Ensure the API version is checked and the body is what is verified, with
// calls made without the package's client.
func TestRawCalls(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	conn, err := grpc.NewClient(srv.Addr(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: srv.CertPool()})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	secret, err := strongdm.DecodeSecret(srv.SecretKey())
	if err != nil {
		t.Fatal(err)
	}
	req := &sdmpb.ResourceListRequest{Meta: &sdmpb.ListRequestMetadata{}, Filter: "name:x"}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	other, err := proto.Marshal(&sdmpb.ResourceListRequest{Filter: "name:y"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		version string
		signed  []byte
		method  string
		want    codes.Code
	}{
		{"good", strongdm.APIVersion, body, "/v1.Resources/List", codes.OK},
		{"old api version", "2024-03-28", body, "/v1.Resources/List", codes.InvalidArgument},
		{"signature over other bytes", strongdm.APIVersion, other, "/v1.Resources/List", codes.Unauthenticated},
		{"unknown method", strongdm.APIVersion, body, "/v1.Roles/List", codes.Unimplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signedMethod := strings.Replace(strings.TrimPrefix(tt.method, "/v1."), "/", ".", 1)
			ctx := metadata.AppendToOutgoingContext(t.Context(),
				"x-sdm-authentication", srv.AccessKey(),
				"x-sdm-signature", strongdm.Sign(secret, t0, signedMethod, tt.signed),
				"x-sdm-api-version", tt.version)
			err := conn.Invoke(ctx, tt.method, req, new(sdmpb.ResourceListResponse))
			if got := status.Code(err); got != tt.want {
				t.Errorf("Invoke = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("fails the given number of calls", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.Fail("Accounts.List", 2, codes.Unavailable, strongdmtest.WithMessage("down for lunch"))
		for i, want := range []codes.Code{codes.Unavailable, codes.Unavailable, codes.OK} {
			_, err := c.ListAccounts(t.Context(), "")
			if got := status.Code(err); got != want {
				t.Errorf("call %d: %v, want %v", i, err, want)
			}
			if err != nil && !strings.Contains(err.Error(), "down for lunch") {
				t.Errorf("call %d: error %q lacks the message", i, err)
			}
		}
		if _, err := c.ListResources(t.Context(), ""); err != nil {
			t.Errorf("another method failed: %v", err)
		}
	})

	t.Run("rate limit detail", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		reset := t0.Add(30 * time.Second)
		srv.Fail("Resources.List", 1, codes.ResourceExhausted, strongdmtest.WithRateLimit(reset))
		_, err := c.ListResources(t.Context(), "")
		rl := strongdm.RateLimit(err)
		if !strongdm.IsCode(err, codes.ResourceExhausted) || rl == nil || !rl.GetResetAt().AsTime().Equal(reset) {
			t.Errorf("ListResources error = %v, rate limit %v, want reset at %v", err, rl, reset)
		}
	})

	t.Run("apply then fail", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.Fail("AccountGrants.Delete", 1, codes.DeadlineExceeded, strongdmtest.ApplyThenFail())
		if err := c.DeleteGrant(t.Context(), "ag-1"); !strongdm.IsCode(err, codes.DeadlineExceeded) {
			t.Errorf("DeleteGrant error = %v, want DeadlineExceeded", err)
		}
		for _, g := range srv.Grants() {
			if g.ID == "ag-1" {
				t.Error("ag-1 survived a delete that was applied")
			}
		}
	})

	t.Run("forever until cleared", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.Fail("Accounts.List", -1, codes.Internal)
		for range 3 {
			if _, err := c.ListAccounts(t.Context(), ""); !strongdm.IsCode(err, codes.Internal) {
				t.Fatalf("ListAccounts error = %v, want Internal", err)
			}
		}
		srv.ClearFaults()
		if _, err := c.ListAccounts(t.Context(), ""); err != nil {
			t.Errorf("ListAccounts after ClearFaults: %v", err)
		}
	})

	t.Run("unauthenticated calls do not use faults", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.Fail("Accounts.List", 1, codes.Internal)
		bad := newClient(t, srv, func(cfg *strongdm.Config) { cfg.AccessKey = "auth-wrong" })
		if _, err := bad.ListAccounts(t.Context(), ""); !strongdm.IsCode(err, codes.Unauthenticated) {
			t.Errorf("bad key: %v, want Unauthenticated", err)
		}
		if _, err := c.ListAccounts(t.Context(), ""); !strongdm.IsCode(err, codes.Internal) {
			t.Errorf("good key: %v, want the Internal fault", err)
		}
	})
}

func TestLatency(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	var mu sync.Mutex
	var waits []time.Duration
	srv.SetSleep(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return nil
	})
	srv.SetLatency(250 * time.Millisecond)
	if _, err := c.ListResources(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteGrant(t.Context(), "ag-1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(waits) != "[250ms 250ms]" {
		t.Errorf("latency waits = %v, want two of 250ms", waits)
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	c.ListResources(t.Context(), "")
	c.ListAccounts(t.Context(), "")
	c.ListAccounts(t.Context(), "bad:filter")
	c.DeleteGrant(t.Context(), "ag-1")
	if got, want := fmt.Sprint(srv.Counts()), "map[AccountGrants.Delete:1 Accounts.List:2 Resources.List:1]"; got != want {
		t.Errorf("Counts = %s, want %s", got, want)
	}
	if srv.Calls("Accounts.List") != 2 || srv.Reads() != 3 || srv.Writes() != 1 || len(srv.Requests()) != 4 {
		t.Errorf("Calls = %d, Reads = %d, Writes = %d, Requests = %d, want 2, 3, 1, 4",
			srv.Calls("Accounts.List"), srv.Reads(), srv.Writes(), len(srv.Requests()))
	}
	srv.ResetCounts()
	if srv.Reads() != 0 || srv.Writes() != 0 || len(srv.Counts()) != 0 || len(srv.Requests()) != 0 {
		t.Errorf("after ResetCounts: %v, %d requests", srv.Counts(), len(srv.Requests()))
	}
}

func TestOrgErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		org  strongdmtest.Org
	}{
		{"unknown resource type", strongdmtest.Org{Resources: []strongdmtest.Resource{{ID: "rs-1", Type: "floppy"}}}},
		{"repeated resource id", strongdmtest.Org{Resources: []strongdmtest.Resource{{ID: "rs-1", Type: "ssh"}, {ID: "rs-1", Type: "ssh"}}}},
		{"bad account type", strongdmtest.Org{Accounts: []strongdmtest.Account{{ID: "a-1", Kind: "robot"}}}},
		{"grant of unknown resource", strongdmtest.Org{
			Accounts: []strongdmtest.Account{{ID: "a-1", Kind: "user"}},
			Grants:   []strongdmtest.Grant{{AccountID: "a-1", ResourceID: "rs-1"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := strongdmtest.NewServer(tt.org)
			if err == nil {
				srv.Close()
				t.Errorf("NewServer(%+v) succeeded, want an error", tt.org)
			}
		})
	}
	if _, err := strongdmtest.LoadOrg("testdata/missing.json"); err == nil {
		t.Error("LoadOrg of a missing file succeeded")
	}
}

func TestAddGrant(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	g, err := srv.AddGrant(strongdm.Grant{ResourceID: "rs-3", AccountID: "a-1"})
	if err != nil || !strings.HasPrefix(g.ID, "ag-") {
		t.Fatalf("AddGrant = %+v, %v", g, err)
	}
	if _, err := srv.AddGrant(strongdm.Grant{ID: g.ID, ResourceID: "rs-3", AccountID: "a-1"}); err == nil {
		t.Error("AddGrant of a repeated id succeeded")
	}
	got, err := c.ListGrants(t.Context(), "id:"+g.ID)
	if err != nil || len(got) != 1 {
		t.Errorf("ListGrants(id:%s) = %+v, %v", g.ID, got, err)
	}
}

// Ensure the CA certificate in PEM is enough to trust the emulator.
func TestCACertPEM(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Fatal("CACertPEM holds no certificate")
	}
	c := newClient(t, srv, func(cfg *strongdm.Config) {
		cfg.RootCAs = pool
		cfg.Host = strings.Replace(srv.Addr(), "127.0.0.1", "localhost", 1)
	})
	if _, err := c.ListResources(t.Context(), ""); err != nil {
		t.Errorf("ListResources through localhost: %v", err)
	}
	untrusting := newClient(t, srv, func(cfg *strongdm.Config) { cfg.RootCAs = x509.NewCertPool() })
	if _, err := untrusting.ListResources(t.Context(), ""); !strongdm.IsCode(err, codes.Unavailable) {
		t.Errorf("ListResources without the CA: %v, want Unavailable", err)
	}
}
