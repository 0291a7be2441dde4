package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/job"
	"github.com/oncall-access/oncall-access/internal/pagerdutytest"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdmtest"
)

// Shape of the organisations of the benchmark and of the call-count tests.
const (
	perfEntriesPerPerson = 8 // 4 schedules × 2 escalation levels
	perfLatency          = 20 * time.Millisecond
)

var perfSchedules = []string{"PSCHED01", "PSCHED02", "PSCHED03", "PSCHED04"}

// perfOrg builds an organisation with entries on-call entries and
// resources managed resources, as of at. Each person is on call on every
// schedule at levels 1 and 2 (8 entries) with overlapping times, so the
// tool merges them into one shift; the last person may have fewer. In
// strongDM every on-call person has a user, as many users are not on call
// (interleaved with them), and service accounts, grants and role access of
// people not on call fill the lists. Half the (person, resource) pairs
// already hold a grant that covers the shift, so the tool's writes are the
// other half: people × resources / 2, rounded down.
func perfOrg(entries, resources int, at time.Time) (pagerdutytest.Org, strongdmtest.Org) {
	people := (entries + perfEntriesPerPerson - 1) / perfEntriesPerPerson
	pd := pagerdutytest.Org{EscalationPolicies: []pagerdutytest.Policy{
		{ID: "PEPPRIM", Name: "Primary"}, {ID: "PEPBACK", Name: "Backup"},
	}}
	for _, id := range perfSchedules {
		pd.Schedules = append(pd.Schedules, pagerdutytest.Schedule{ID: id, Name: "Schedule " + id,
			EscalationPolicies: []string{"PEPPRIM", "PEPBACK"}})
	}
	var sdm strongdmtest.Org
	for r := range resources {
		sdm.Resources = append(sdm.Resources, strongdmtest.Resource{ID: fmt.Sprintf("rs-%04d", r), Name: fmt.Sprintf("perf-db-%d", r), Type: "postgres"})
	}
	sdm.Resources = append(sdm.Resources, strongdmtest.Resource{ID: "rs-other", Name: "unmanaged", Type: "ssh"})
	for s := range 3 {
		sdm.Accounts = append(sdm.Accounts, strongdmtest.Account{ID: fmt.Sprintf("a-svc-%d", s), Kind: "service", Name: fmt.Sprintf("ci-%d", s)})
	}

	n := 0
	for i := range people {
		uid := fmt.Sprintf("PU%05d", i)
		email := fmt.Sprintf("oncall%05d@example.com", i)
		pd.Users = append(pd.Users, pagerdutytest.User{ID: uid, Name: "On Call " + uid, Email: email})
		for s := range pd.Schedules {
			pd.Schedules[s].Users = append(pd.Schedules[s].Users, uid)
		}
		// Shifts start from 2 hours ago to 9 hours ahead; each entry of a
		// person starts 15 minutes after the previous one and lasts 8 hours.
		base := at.Add(time.Duration(i%12-2) * time.Hour)
		var shiftEnd time.Time
		for k := 0; k < perfEntriesPerPerson && n < entries; k, n = k+1, n+1 {
			start := base.Add(time.Duration(k) * 15 * time.Minute)
			shiftEnd = start.Add(8 * time.Hour)
			policy, level := "PEPPRIM", 1
			if k%2 == 1 {
				policy, level = "PEPBACK", 2
			}
			pd.OnCalls = append(pd.OnCalls, pagerdutytest.OnCall{UserID: uid, ScheduleID: perfSchedules[k/2%len(perfSchedules)],
				EscalationPolicyID: policy, EscalationLevel: level,
				Start: start.UTC().Format(time.RFC3339), End: shiftEnd.UTC().Format(time.RFC3339)})
		}

		acct := fmt.Sprintf("a-%05d", i)
		other := fmt.Sprintf("a-x%05d", i)
		sdm.Accounts = append(sdm.Accounts,
			strongdmtest.Account{ID: acct, Kind: "user", Email: email, FirstName: "On", LastName: "Call"},
			strongdmtest.Account{ID: other, Kind: "user", Email: fmt.Sprintf("other%05d@example.com", i), FirstName: "Not", LastName: "On Call"})
		for r := range resources {
			rid := sdm.Resources[r].ID
			if (i+r)%2 == 0 {
				sdm.Grants = append(sdm.Grants, strongdmtest.Grant{AccountID: acct, ResourceID: rid,
					Start: base.Add(-time.Hour), End: shiftEnd.Add(time.Hour)})
			}
			if i%3 == 0 {
				sdm.Grants = append(sdm.Grants, strongdmtest.Grant{AccountID: other, ResourceID: rid,
					Start: at.Add(-time.Hour), End: at.Add(4 * time.Hour)})
			}
		}
		if i%5 == 0 {
			sdm.RoleAccess = append(sdm.RoleAccess, strongdmtest.RoleAccess{AccountID: other, ResourceID: sdm.Resources[0].ID, RoleID: "r-dba"})
		}
	}
	return pd, sdm
}

// perfInputs are the tool's inputs for a perfOrg served by pd and sdm.
func perfInputs(pd *pagerdutytest.Server, sdm *strongdmtest.Server, resources int) map[string]string {
	names := make([]string, resources)
	for r := range names {
		names[r] = fmt.Sprintf("perf-db-%d", r)
	}
	return map[string]string{
		"pagerduty-token":     pd.Token(),
		"pagerduty-api-url":   pd.URL(),
		"pagerduty-schedules": strings.Join(perfSchedules, ","),
		"sdm-api-access-key":  sdm.AccessKey(),
		"sdm-api-secret-key":  sdm.SecretKey(),
		"sdm-api-host":        sdm.Addr(),
		"resources":           strings.Join(names, ","),
		"window":              "24h",
		"max-changes":         "100000",
	}
}

// BenchmarkSync runs the tool and, beside it, the original script's
// algorithm over the emulators, with 20 ms added to every call, for
// organisations of 50, 200 and 1000 on-call entries and 1 or 5 managed
// resources. Each reports the calls it made, its wall time and the peak
// heap of the process (emulators included) while it ran:
//
//	go test -run='^$' -bench=. -benchtime=1x ./internal/job
func BenchmarkSync(b *testing.B) {
	for _, entries := range []int{50, 200, 1000} {
		for _, resources := range []int{1, 5} {
			for _, algo := range []string{"tool", "original"} {
				b.Run(fmt.Sprintf("entries=%d/resources=%d/%s", entries, resources, algo), func(b *testing.B) {
					benchSync(b, entries, resources, algo == "original")
				})
			}
		}
	}
}

func benchSync(b *testing.B, entries, resources int, original bool) {
	pd := pagerdutytest.NewServer(pagerdutytest.Org{})
	defer pd.Close()
	sdm, err := strongdmtest.NewServer(strongdmtest.Org{})
	if err != nil {
		b.Fatal(err)
	}
	defer sdm.Close()
	pd.SetLatency(perfLatency)
	sdm.SetLatency(perfLatency)

	var pdCalls, reads, writes, wall, peak float64
	for range b.N {
		b.StopTimer()
		at := time.Now().UTC().Truncate(time.Second)
		pdOrg, sdmOrg := perfOrg(entries, resources, at)
		pd.SetOrg(pdOrg)
		if err := sdm.SetOrg(sdmOrg); err != nil {
			b.Fatal(err)
		}
		pd.ResetCounts()
		sdm.ResetCounts()
		runtime.GC()
		sample := sampleHeap()
		b.StartTimer()

		start := time.Now()
		if original {
			err = runOriginal(context.Background(), pd, sdm, resources, at)
		} else {
			err = runTool(pd, sdm, resources, at)
		}
		elapsed := time.Since(start)

		b.StopTimer()
		peak = max(peak, sample())
		if err != nil {
			b.Fatal(err)
		}
		pdCalls += float64(pd.Total())
		reads += float64(sdm.Reads())
		writes += float64(sdm.Writes())
		wall += float64(elapsed.Milliseconds())
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(pdCalls/n, "pd-calls/op")
	b.ReportMetric(reads/n, "sdm-reads/op")
	b.ReportMetric(writes/n, "sdm-writes/op")
	b.ReportMetric((pdCalls+reads+writes)/n, "calls/op")
	b.ReportMetric(wall/n, "wall-ms/op")
	b.ReportMetric(peak/(1<<20), "peak-heap-MB")
}

// sampleHeap reads the heap in use every millisecond until the returned
// function is called, which returns the largest value seen, in bytes.
func sampleHeap() func() float64 {
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		over = make(chan struct{})
	)
	read := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak = max(peak, m.HeapAlloc)
		mu.Unlock()
	}
	go func() {
		defer close(over)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() float64 {
		read()
		close(done)
		<-over
		mu.Lock()
		defer mu.Unlock()
		return float64(peak)
	}
}

// runTool runs the job as the action would, on the real clock.
func runTool(pd *pagerdutytest.Server, sdm *strongdmtest.Server, resources int, at time.Time) error {
	inputs := perfInputs(pd, sdm, resources)
	getenv := func(k string) string {
		if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
			for n, v := range inputs {
				if strings.ToUpper(n) == name {
					return v
				}
			}
		}
		return ""
	}
	cfg, err := config.Load([]string{"-at", at.Format(time.RFC3339)}, getenv, io.Discard)
	if err != nil {
		return fmt.Errorf("load the benchmark's inputs: %w", err)
	}
	code := job.Run(context.Background(), cfg, job.Env{
		Version:    "bench",
		Getenv:     getenv,
		Stdout:     io.Discard,
		Stderr:     io.Discard,
		SDMRootCAs: sdm.CertPool(),
	})
	if code != job.ExitOK {
		return fmt.Errorf("the job exited %d", code)
	}
	return nil
}

// runOriginal is the algorithm of the script oncall-access replaces, made
// to do the same work: sequential; every page of /oncalls (the script read
// only the first); for each entry, one GET /users/{id} for the email (the
// script followed the entry's self link), one strongDM account lookup by
// email and one create per resource, whether the grant exists or not
// (ALREADY_EXISTS and other refusals are printed and ignored).
func runOriginal(ctx context.Context, pd *pagerdutytest.Server, sdm *strongdmtest.Server, resources int, at time.Time) error {
	client, err := strongdm.New(strongdm.Config{
		Host: sdm.Addr(), AccessKey: sdm.AccessKey(), SecretKey: sdm.SecretKey(), RootCAs: sdm.CertPool(),
		// The script had no pacing; the budget is set out of reach.
		ReadsPerMinute: 1 << 30, WritesPerMinute: 1 << 30,
	})
	if err != nil {
		return err
	}
	defer client.Close()

	// The script looked its datasource up by name and took resources[0].
	var ids []string
	for r := range resources {
		f, err := strongdm.QuoteFilter("name:?", fmt.Sprintf("perf-db-%d", r))
		if err != nil {
			return err
		}
		rs, err := client.ListResources(ctx, f)
		if err != nil || len(rs) == 0 {
			return fmt.Errorf("look up resource perf-db-%d: %v", r, err)
		}
		ids = append(ids, rs[0].ID)
	}

	get := func(path string, q url.Values, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, pd.URL()+path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Token token="+pd.Token())
		req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("get %s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}

	q := url.Values{
		"schedule_ids[]": perfSchedules,
		"since":          {at.Format(time.RFC3339)},
		"until":          {at.Add(24 * time.Hour).Format(time.RFC3339)},
	}
	for offset := 0; ; {
		q.Set("offset", strconv.Itoa(offset))
		var page struct {
			OnCalls []struct {
				User       struct{ ID string } `json:"user"`
				Start, End string
			} `json:"oncalls"`
			More bool `json:"more"`
		}
		if err := get("/oncalls", q, &page); err != nil {
			return err
		}
		for _, oc := range page.OnCalls {
			var u struct {
				User struct{ Email string } `json:"user"`
			}
			if err := get("/users/"+oc.User.ID, nil, &u); err != nil {
				return err
			}
			f, err := strongdm.QuoteFilter("email:?", u.User.Email)
			if err != nil {
				return err
			}
			accounts, err := client.ListAccounts(ctx, f)
			if err != nil || len(accounts) == 0 {
				continue // printed and skipped
			}
			start, _ := time.Parse(time.RFC3339, oc.Start)
			end, _ := time.Parse(time.RFC3339, oc.End)
			for _, id := range ids {
				_, err := client.CreateGrant(ctx, strongdm.Grant{ResourceID: id, AccountID: accounts[0].ID, Start: start, End: end})
				if err != nil && !strongdm.IsCode(err, codes.AlreadyExists) {
					return fmt.Errorf("create a grant: %w", err)
				}
			}
		}
		if !page.More {
			return nil
		}
		if len(page.OnCalls) == 0 {
			return errors.New("/oncalls said more but sent nothing")
		}
		offset += len(page.OnCalls)
	}
}
