package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/oncall-access/oncall-access/internal/plan"
	"github.com/oncall-access/oncall-access/internal/report"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"google.golang.org/grpc/codes"
)

// outcome is what happened when one action was applied.
type outcome struct {
	status report.Status
	err    error
	grant  strongdm.Grant
	// oldGone: a Create deleted the grant it named (plan.Action.Grant)
	// and did not put it back.
	oldGone bool
}

// apply performs the writes of the plan with bounded concurrency. One
// failure does not stop the others. The writes of one (account, resource)
// pair run one after the other in plan order, creates and extends before
// revokes: where strongDM keeps one grant per pair, a create may have to
// remove the grant a later row revokes, and a grant whose replacement
// could not be made must stay. Pairs run side by side.
func (r *run) apply(ctx context.Context, actions []plan.Action) []outcome {
	out := make([]outcome, len(actions))
	p := progress{log: r.log, now: r.env.Now, last: r.env.Now()}
	var pairs [][]int
	index := map[string]int{}
	for i, a := range actions {
		if !isWrite(a.Kind) {
			continue
		}
		p.total++
		k := a.Account.ID + "/" + a.Resource.ID
		j, ok := index[k]
		if !ok {
			j = len(pairs)
			index[k] = j
			pairs = append(pairs, nil)
		}
		pairs[j] = append(pairs[j], i)
	}
	for _, is := range pairs {
		// Report order puts revokes after creates only when the emails
		// agree; an email map can make them differ in case or in name.
		slices.SortStableFunc(is, func(x, y int) int {
			return cmp.Compare(btoi(actions[x].Kind == plan.Revoke), btoi(actions[y].Kind == plan.Revoke))
		})
	}
	_ = r.each(ctx, len(pairs), func(ctx context.Context, j int) error {
		gone := map[string]bool{}  // grants of the pair a create deleted
		kept := map[string]error{} // grants whose replacement failed
		for _, i := range pairs[j] {
			a := actions[i]
			switch {
			case a.Kind == plan.Revoke && gone[a.Grant.ID]:
				out[i] = outcome{status: report.Revoked}
			case a.Kind == plan.Revoke && kept[a.Grant.ID] != nil:
				out[i] = outcome{status: report.NotAttempted,
					err: fmt.Errorf("kept, as the grant to replace it could not be made: %w", kept[a.Grant.ID])}
			default:
				out[i] = r.applyOne(ctx, a)
			}
			if a.Kind == plan.Create && a.Grant.ID != "" {
				if out[i].oldGone {
					gone[a.Grant.ID] = true
				} else if out[i].status == report.Failed || out[i].status == report.NotAttempted {
					kept[a.Grant.ID] = out[i].err
				}
			}
			p.step()
		}
		return nil
	})
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isWrite(k plan.Kind) bool { return k == plan.Create || k == plan.Extend || k == plan.Revoke }

// progressEvery is how often a long apply says how far it got: often
// enough to show a slow run is alive, rarely enough to stay readable.
const progressEvery = 5 * time.Second

// progress counts the writes done and logs "done of total" at most once
// every progressEvery, on the run's clock.
type progress struct {
	log         *slog.Logger
	now         func() time.Time
	mu          sync.Mutex // guards the fields below
	done, total int
	last        time.Time
}

func (p *progress) step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if now := p.now(); now.Sub(p.last) >= progressEvery && p.done < p.total {
		p.last = now
		p.log.Info("applying", "done", p.done, "total", p.total)
	}
}

func (r *run) applyOne(ctx context.Context, a plan.Action) outcome {
	if ctx.Err() != nil {
		switch a.Kind {
		case plan.Create, plan.Extend, plan.Revoke:
			return outcome{status: report.NotAttempted, err: fmt.Errorf("the run's timeout of %s expired first", r.cfg.Timeout)}
		}
	}
	who := r.who(a)
	switch a.Kind {
	case plan.Create:
		g, err := r.create(ctx, a, a.Start, a.End)
		if strongdm.IsCode(err, codes.AlreadyExists) && a.Grant.ID != "" {
			// strongDM keeps one grant per pair, and a.Grant holds it.
			return r.makeWay(ctx, a)
		}
		if errors.Is(err, strongdm.ErrExistsAfterRetry) {
			// An attempt that timed out was stored: this run made the grant.
			r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
				"note", "an earlier attempt was stored")
			return outcome{status: report.Created}
		}
		if strongdm.IsCode(err, codes.AlreadyExists) {
			// Made by a concurrent run.
			r.log.Info("already granted", "person", who, "resource", a.Resource.Name)
			return outcome{status: report.AlreadyGranted}
		}
		if err != nil {
			r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
			return outcome{status: report.Failed, err: err}
		}
		r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End)
		return outcome{status: report.Created, grant: g}
	case plan.Extend:
		return r.extend(ctx, a)
	case plan.Revoke:
		err := r.sdm.DeleteGrant(ctx, a.Grant.ID)
		if err != nil && !strongdm.IsCode(err, codes.NotFound) {
			r.errorf("could not revoke %s from %s: %v", a.Resource.Name, who, err)
			return outcome{status: report.Failed, err: err}
		}
		r.log.Info("revoked", "person", who, "resource", a.Resource.Name, "grant", a.Grant.ID)
		return outcome{status: report.Revoked}
	}
	return outcome{}
}

// makeWay deletes the grant that stands in the way of a Create (see
// plan.Action.Grant) and creates again. Should that fail, it puts the old
// grant back if it still gives access: it may be the access of the person
// on call, whom a failed write must never cut off.
func (r *run) makeWay(ctx context.Context, a plan.Action) outcome {
	who := r.who(a)
	if err := r.sdm.DeleteGrant(ctx, a.Grant.ID); err != nil && !strongdm.IsCode(err, codes.NotFound) {
		r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
		return outcome{status: report.Failed, err: fmt.Errorf("delete grant %s to make way: %w", a.Grant.ID, err)}
	}
	g, err := r.create(ctx, a, a.Start, a.End)
	if err == nil {
		r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
			"replacing", a.Grant.ID)
		return outcome{status: report.Created, grant: g, oldGone: true}
	}
	if strongdm.IsCode(err, codes.AlreadyExists) {
		// A concurrent run made a grant on the pair in between.
		r.log.Info("already granted", "person", who, "resource", a.Resource.Name)
		return outcome{status: report.AlreadyGranted, oldGone: true}
	}
	o := outcome{status: report.Failed, err: err, oldGone: true}
	if a.Grant.End.IsZero() || a.Grant.End.After(r.now) {
		if _, rerr := r.create(ctx, a, a.Grant.Start, a.Grant.End); rerr != nil {
			o.err = fmt.Errorf("%w (and restoring the old grant failed: %v)", err, rerr)
		} else {
			o.oldGone = false
		}
	}
	r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, o.err)
	return o
}

func (r *run) create(ctx context.Context, a plan.Action, start, end time.Time) (strongdm.Grant, error) {
	return r.sdm.CreateGrant(ctx, strongdm.Grant{ResourceID: a.Resource.ID, AccountID: a.Account.ID, Start: start, End: end})
}

// extend adds the uncovered part of a shift. Where strongDM holds only one
// grant per pair, it replaces the old grant by one for the whole interval:
// delete then create at once, and put the old grant back if the create
// fails, so the person is never left without access for longer than that.
func (r *run) extend(ctx context.Context, a plan.Action) outcome {
	who := r.who(a)
	g, err := r.create(ctx, a, a.Start, a.End)
	if err == nil {
		r.log.Info("extended", "person", who, "resource", a.Resource.Name, "until", a.End)
		return outcome{status: report.Extended, grant: g}
	}
	if !strongdm.IsCode(err, codes.AlreadyExists) {
		r.errorf("could not extend %s for %s: %v", a.Resource.Name, who, err)
		return outcome{status: report.Failed, err: err}
	}
	start := a.Grant.Start
	if start.IsZero() || start.After(a.Start) {
		start = a.Start
	}
	end := a.Grant.End
	if a.End.After(end) {
		end = a.End
	}
	if err := r.sdm.DeleteGrant(ctx, a.Grant.ID); err != nil && !strongdm.IsCode(err, codes.NotFound) {
		r.errorf("could not replace the grant of %s on %s: %v", who, a.Resource.Name, err)
		return outcome{status: report.Failed, err: fmt.Errorf("delete grant %s to replace it: %w", a.Grant.ID, err)}
	}
	g, err = r.create(ctx, a, start, end)
	if err != nil {
		// Restore what the person had; the error is what gets reported.
		if _, rerr := r.create(ctx, a, a.Grant.Start, a.Grant.End); rerr != nil {
			err = fmt.Errorf("%w (and restoring the old grant failed: %v)", err, rerr)
		}
		r.errorf("could not replace the grant of %s on %s: %v", who, a.Resource.Name, err)
		return outcome{status: report.Failed, err: err}
	}
	r.log.Info("replaced grant", "person", who, "resource", a.Resource.Name, "from", start, "until", end)
	return outcome{status: report.Replaced, grant: g}
}

// each runs f for 0..n-1 with at most the configured concurrency, and
// returns the first error after every call has finished.
func (r *run) each(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, max(1, r.cfg.Concurrency))
	)
	for i := range n {
		sem <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			// The caller gives up on the first error: spare the calls.
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
