package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
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
// could not be made must stay. Pairs run side by side. A create behind an
// earlier grant (plan.Action.Behind) is tried like any: once strongDM
// refuses one as it keeps one grant per pair, the run's others are
// deferred without a call.
func (r *run) apply(ctx context.Context, actions []plan.Action) []outcome {
	out := make([]outcome, len(actions))
	var oneGrant atomic.Bool // strongDM refused a create behind an earlier grant: see refusedBehind
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
				out[i] = r.applyOne(ctx, a, &oneGrant)
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

func (r *run) applyOne(ctx context.Context, a plan.Action, oneGrant *atomic.Bool) outcome {
	if a.Kind == plan.Create && a.Behind.ID != "" && oneGrant.Load() {
		// Checked before the deadline: this create would not be made
		// anyway, so it is not left undone.
		return r.deferBehind(a, a.Behind, "strongDM refused another grant behind an earlier one in this run")
	}
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
		switch {
		case err != nil && a.Behind.ID != "" && strongdm.IsCode(err, codes.AlreadyExists):
			// Also after a retry: the grant behind which this one waits
			// may be what strongDM found. See what it holds.
			return r.refusedBehind(ctx, a, errors.Is(err, strongdm.ErrExistsAfterRetry), oneGrant)
		case err == nil:
			r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End)
			return outcome{status: report.Created, grant: g}
		case errors.Is(err, strongdm.ErrExistsAfterRetry) && r.stored(ctx, a):
			// Checked before any other AlreadyExists: an attempt that timed
			// out was stored, so this run made the grant, and nothing may
			// be deleted to make way for it.
			r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
				"note", "an earlier attempt was stored")
			return outcome{status: report.Created}
		case strongdm.IsCode(err, codes.AlreadyExists) && a.Grant.ID != "":
			// strongDM keeps one grant per pair, and a.Grant holds it.
			return r.makeWay(ctx, a)
		case strongdm.IsCode(err, codes.AlreadyExists):
			// The plan saw nothing covering the shift: see what does.
			return r.held(ctx, a, a.Start, a.End)
		default:
			r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
			return outcome{status: report.Failed, err: err}
		}
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

// replaceBound bounds the calls that follow a deleted grant (the new grant,
// or putting the old one back), which run even when the run's deadline
// passed meanwhile: the person must not be left without the deleted grant.
const replaceBound = 30 * time.Second

// afterDelete is the context of the calls that follow a deleted grant.
func afterDelete(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), replaceBound)
}

// tooLate is the outcome of a replacement not started because the run's
// deadline passed: a.Grant stays as it is.
func (r *run) tooLate(a plan.Action) outcome {
	return outcome{status: report.NotAttempted,
		err: fmt.Errorf("the run's timeout of %s expired before grant %s could be replaced; it was left as it is",
			r.cfg.Timeout, a.Grant.ID)}
}

// deleteOld deletes a.Grant to replace it. When the delete failed because
// the run's deadline passed, it may still have been applied: the old grant
// is put back (strongDM refusing it as existing means it was not deleted).
func (r *run) deleteOld(ctx context.Context, a plan.Action) error {
	err := r.sdm.DeleteGrant(ctx, a.Grant.ID)
	if err == nil || strongdm.IsCode(err, codes.NotFound) {
		return nil
	}
	err = fmt.Errorf("delete grant %s to replace it: %w", a.Grant.ID, err)
	bctx, cancel := afterDelete(ctx)
	defer cancel()
	if _, rerr := r.restore(bctx, a); rerr != nil && !strongdm.IsCode(rerr, codes.AlreadyExists) {
		return fmt.Errorf("%w (and putting it back in case the delete was applied failed: %v)", err, rerr)
	}
	return err
}

// restore puts back a.Grant, deleted to make way, if it still gives access
// (it may be the access of the person on call, whom a failed write must
// never cut off), and says whether it did.
func (r *run) restore(ctx context.Context, a plan.Action) (bool, error) {
	if !a.Grant.End.IsZero() && !a.Grant.End.After(r.env.Now()) {
		return false, nil // spent meanwhile: nothing to put back
	}
	_, err := r.create(ctx, a, a.Grant.Start, a.Grant.End)
	if errors.Is(err, strongdm.ErrExistsAfterRetry) {
		return true, nil // a timed-out attempt was stored
	}
	return err == nil, err
}

// makeWay deletes the grant that stands in the way of a Create (see
// plan.Action.Grant) and creates again. Should that fail, it puts the old
// grant back if it still gives access.
func (r *run) makeWay(ctx context.Context, a plan.Action) outcome {
	who := r.who(a)
	if ctx.Err() != nil {
		return r.tooLate(a)
	}
	if err := r.deleteOld(ctx, a); err != nil {
		r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
		return outcome{status: report.Failed, err: err}
	}
	ctx, cancel := afterDelete(ctx)
	defer cancel()
	g, err := r.create(ctx, a, a.Start, a.End)
	switch {
	case err == nil:
		r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
			"replacing", a.Grant.ID)
		return outcome{status: report.Created, grant: g, oldGone: true}
	case errors.Is(err, strongdm.ErrExistsAfterRetry):
		r.log.Info("granted", "person", who, "resource", a.Resource.Name, "from", a.Start, "until", a.End,
			"replacing", a.Grant.ID, "note", "an earlier attempt was stored")
		return outcome{status: report.Created, oldGone: true}
	case strongdm.IsCode(err, codes.AlreadyExists):
		// Another grant holds the pair (a concurrent run's, or one the
		// plan did not see): the old one is gone either way.
		o := r.held(ctx, a, a.Start, a.End)
		o.oldGone = true
		return o
	}
	o := outcome{status: report.Failed, err: err, oldGone: true}
	if restored, rerr := r.restore(ctx, a); rerr != nil {
		o.err = fmt.Errorf("%w (and restoring the old grant failed: %v)", err, rerr)
	} else if restored {
		o.oldGone = false
	}
	r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, o.err)
	return o
}

// held decides what an ALREADY_EXISTS answer means where the plan saw
// nothing covering start..end: it lists the pair's grants, and the access
// counts as granted only if they cover the interval. Otherwise strongDM
// keeps one grant per pair and another grant holds it: a failure, naming
// that grant, as the person may have no access when on call.
func (r *run) held(ctx context.Context, a plan.Action, start, end time.Time) outcome {
	gs, err := r.pairGrants(ctx, a)
	if err != nil {
		return r.unlisted(a, err)
	}
	return r.heldIn(a, gs, start, end)
}

// unlisted is the outcome of an ALREADY_EXISTS answer whose pair's grants
// could not be listed.
func (r *run) unlisted(a plan.Action, err error) outcome {
	err = fmt.Errorf("strongDM answered that a grant already exists on this pair, and listing the pair's grants failed: %w", err)
	r.errorf("could not grant %s to %s: %v", a.Resource.Name, r.who(a), err)
	return outcome{status: report.Failed, err: err}
}

// heldIn is held with the pair's grants gs, by start, already listed.
func (r *run) heldIn(a plan.Action, gs []strongdm.Grant, start, end time.Time) outcome {
	who := r.who(a)
	if covers(gs, start, end) {
		r.log.Info("already granted", "person", who, "resource", a.Resource.Name)
		return outcome{status: report.AlreadyGranted}
	}
	var err error
	now := r.env.Now()
	i := slices.IndexFunc(gs, func(g strongdm.Grant) bool { return g.End.IsZero() || g.End.After(now) })
	if i < 0 {
		err = errors.New("strongDM answered that a grant already exists on this pair, yet lists none unexpired")
	} else if gs[i].End.IsZero() {
		err = fmt.Errorf("strongDM holds another grant on this pair: %s with no end", gs[i].ID)
	} else {
		err = fmt.Errorf("strongDM holds another grant on this pair: %s until %s", gs[i].ID,
			gs[i].End.UTC().Format(time.RFC3339))
	}
	r.errorf("could not grant %s to %s: %v", a.Resource.Name, who, err)
	return outcome{status: report.Failed, err: err}
}

// refusedBehind decides what an ALREADY_EXISTS answer to a Create behind
// an earlier grant (plan.Action.Behind) means. When the pair's unexpired
// grants all end at or before the shift starts, strongDM keeps one grant
// per pair and the earlier shift's grant holds it: the row is deferred,
// and the run marks oneGrant so its other such creates spare the call
// (strongDM keeps one grant per pair for the whole organization). A
// grant covering the shift means it exists: made by this create when the
// answer came after a retry, else already granted. Anything else is
// judged as held does.
func (r *run) refusedBehind(ctx context.Context, a plan.Action, retried bool, oneGrant *atomic.Bool) outcome {
	gs, err := r.pairGrants(ctx, a)
	if err != nil {
		return r.unlisted(a, err)
	}
	if retried && covers(gs, a.Start, a.End) {
		r.log.Info("granted", "person", r.who(a), "resource", a.Resource.Name, "from", a.Start, "until", a.End,
			"note", "an earlier attempt was stored")
		return outcome{status: report.Created}
	}
	now := r.env.Now()
	var last strongdm.Grant
	for _, g := range gs {
		if !g.End.IsZero() && !g.End.After(now) {
			continue // expired: it holds nothing
		}
		if g.End.IsZero() || g.End.After(a.Start) {
			// Not an earlier shift's grant: covering, or in the way.
			return r.heldIn(a, gs, a.Start, a.End)
		}
		if g.End.After(last.End) {
			last = g
		}
	}
	if last.ID == "" {
		return r.heldIn(a, gs, a.Start, a.End)
	}
	oneGrant.Store(true)
	return r.deferBehind(a, last, "strongDM keeps one grant per pair")
}

// deferBehind is the outcome of a Create behind grant g that strongDM
// keeps one grant per pair for: deferred, with why and until when. It is
// not a failure: the first run at or after g's end creates the grant.
func (r *run) deferBehind(a plan.Action, g strongdm.Grant, why string) outcome {
	err := fmt.Errorf("%s: waits for grant %s to end at %s; the first run after that creates it",
		why, g.ID, g.End.UTC().Format(time.RFC3339))
	r.log.Info("deferred", "person", r.who(a), "resource", a.Resource.Name, "from", a.Start, "until", a.End,
		"reason", err.Error())
	return outcome{status: report.Deferred, err: err}
}

// stored says whether a create that strongDM answered ErrExistsAfterRetry
// was in fact stored, where a.Grant alone could have been what strongDM
// found (one grant per pair): grants other than a.Grant must cover the
// action's interval. A listing that fails says no.
func (r *run) stored(ctx context.Context, a plan.Action) bool {
	gs, err := r.pairGrants(ctx, a)
	if err != nil {
		r.log.Warn("could not check whether a retried grant was stored", "error", err)
		return false
	}
	gs = slices.DeleteFunc(gs, func(g strongdm.Grant) bool { return g.ID == a.Grant.ID })
	return covers(gs, a.Start, a.End)
}

// pairGrants lists the grants of a's account on a's resource, by start.
func (r *run) pairGrants(ctx context.Context, a plan.Action) ([]strongdm.Grant, error) {
	f, err := strongdm.QuoteFilter("accountid:? resourceid:?", a.Account.ID, a.Resource.ID)
	if err != nil {
		return nil, err
	}
	gs, err := r.sdm.ListGrants(ctx, f)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(gs, func(x, y strongdm.Grant) int { return x.Start.Compare(y.Start) })
	return gs, nil
}

// covers says whether gs (sorted by start) together cover start..end.
func covers(gs []strongdm.Grant, start, end time.Time) bool {
	t := start
	for _, g := range gs {
		if g.Start.After(t) {
			return false
		}
		if g.End.IsZero() {
			return true
		}
		if g.End.After(t) {
			t = g.End
		}
		if !t.Before(end) {
			return true
		}
	}
	return false
}

func (r *run) create(ctx context.Context, a plan.Action, start, end time.Time) (strongdm.Grant, error) {
	return r.sdm.CreateGrant(ctx, strongdm.Grant{ResourceID: a.Resource.ID, AccountID: a.Account.ID, Start: start, End: end})
}

// extend adds the uncovered part of a shift. Where strongDM holds only one
// grant per pair, it replaces the old grant by one for the whole interval:
// delete then create at once, and put the old grant back if the create
// fails, so the person is never left without access for longer than that.
// The replacement starts no earlier than now, so a grant extended run after
// run (a shift cut by max-duration) never grows past max-duration.
func (r *run) extend(ctx context.Context, a plan.Action) outcome {
	who := r.who(a)
	g, err := r.create(ctx, a, a.Start, a.End)
	switch {
	case err == nil:
		r.log.Info("extended", "person", who, "resource", a.Resource.Name, "until", a.End)
		return outcome{status: report.Extended, grant: g}
	case errors.Is(err, strongdm.ErrExistsAfterRetry) && r.stored(ctx, a):
		// An attempt that timed out was stored: the extension exists, and
		// the old grant must not be replaced.
		r.log.Info("extended", "person", who, "resource", a.Resource.Name, "until", a.End,
			"note", "an earlier attempt was stored")
		return outcome{status: report.Extended}
	case !strongdm.IsCode(err, codes.AlreadyExists):
		r.errorf("could not extend %s for %s: %v", a.Resource.Name, who, err)
		return outcome{status: report.Failed, err: err}
	}
	if a.Grant.ID == "" || a.Grant.End.IsZero() || a.Grant.AccessRequestID != "" {
		// The planner extends only grants the tool may replace; a permanent
		// grant must never become temporary, nor an access request's lose
		// its request.
		return r.held(ctx, a, a.Start, a.End)
	}
	if ctx.Err() != nil {
		return r.tooLate(a)
	}
	start := a.Grant.Start
	if start.IsZero() || start.After(a.Start) {
		start = a.Start
	}
	if start.Before(r.now) {
		start = r.now
	}
	end := a.Grant.End
	if a.End.After(end) {
		end = a.End
	}
	if err := r.deleteOld(ctx, a); err != nil {
		r.errorf("could not replace the grant of %s on %s: %v", who, a.Resource.Name, err)
		return outcome{status: report.Failed, err: err}
	}
	ctx, cancel := afterDelete(ctx)
	defer cancel()
	g, err = r.create(ctx, a, start, end)
	switch {
	case err == nil:
		r.log.Info("replaced grant", "person", who, "resource", a.Resource.Name, "from", start, "until", end)
		return outcome{status: report.Replaced, grant: g}
	case errors.Is(err, strongdm.ErrExistsAfterRetry):
		r.log.Info("replaced grant", "person", who, "resource", a.Resource.Name, "from", start, "until", end,
			"note", "an earlier attempt was stored")
		return outcome{status: report.Replaced}
	case strongdm.IsCode(err, codes.AlreadyExists):
		// Another grant took the pair in between; the old one is gone.
		return r.held(ctx, a, start, end)
	}
	// Restore what the person had; the error is what gets reported.
	if _, rerr := r.restore(ctx, a); rerr != nil {
		err = fmt.Errorf("%w (and restoring the old grant failed: %v)", err, rerr)
	}
	r.errorf("could not replace the grant of %s on %s: %v", who, a.Resource.Name, err)
	return outcome{status: report.Failed, err: err}
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
