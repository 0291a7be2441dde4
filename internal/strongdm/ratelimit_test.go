package strongdm_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// The client paces reads and writes apart, through the injected clock and
// sleep, before each attempt is sent.
func TestClientPacing(t *testing.T) {
	srv, c, sl := setup(t, func(cfg *strongdm.Config) {
		cfg.ReadsPerMinute, cfg.WritesPerMinute = 2, 6
	})
	ctx := context.Background()
	for range 8 {
		// Unknown grants: NotFound is not retried, so one attempt each.
		if err := c.DeleteGrant(ctx, "ag-none"); !strongdm.IsCode(err, codes.NotFound) {
			t.Fatalf("delete: %v", err)
		}
	}
	// The clock stands still: the 7th and 8th writes wait for 1 and 2
	// tokens at 6 a minute.
	if got, want := sl.got(), []time.Duration{10 * time.Second, 20 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("sleeps after 8 writes = %v, want %v", got, want)
	}
	for range 3 {
		if _, err := c.ListResources(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sl.got()[2:], []time.Duration{30 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("sleeps after 3 reads = %v, want %v", got, want)
	}
	if reads, writes := c.Calls(); reads != 3 || writes != 8 {
		t.Errorf("calls = %d reads, %d writes; want 3, 8", reads, writes)
	}
	if srv.Writes() != 8 {
		t.Errorf("emulator saw %d writes, want 8", srv.Writes())
	}
}

// ListAccountsPages stops asking once the caller has seen enough.
func TestListAccountsPages(t *testing.T) {
	srv, c, _ := setup(t, func(cfg *strongdm.Config) { cfg.PageLimit = 1 })
	all, err := c.ListAccounts(context.Background(), "")
	if err != nil || len(all) < 2 {
		t.Fatalf("need 2 accounts or more in the test org: %d, %v", len(all), err)
	}
	srv.ResetCounts()
	var seen []string
	err = c.ListAccountsPages(context.Background(), "", func(page []strongdm.Account, last bool) bool {
		if last {
			t.Error("the first page of two is called the last")
		}
		for _, a := range page {
			seen = append(seen, a.ID)
		}
		return len(seen) < 1
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{all[0].ID}; !slices.Equal(seen, want) {
		t.Errorf("pages gave %q, want %q", seen, want)
	}
	if n := srv.Calls("Accounts.List"); n != 1 {
		t.Errorf("%d pages asked for, want 1", n)
	}
}
