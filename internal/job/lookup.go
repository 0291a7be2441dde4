package job

import (
	"context"
	"fmt"
	"strings"

	"github.com/oncall-access/oncall-access/internal/plan"
	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// listUsers reads the list of every strongDM user, page by page, looking
// for the accounts of emails (lower-cased, without repeats). It returns the
// accounts found by email, and the emails the listing stopped too early to
// settle, which the caller looks up one by one. When the listing reaches
// its end, everyone not in it has no strongDM user and nothing is missing.
//
// A page holds 50 users, so an organisation of up to 50 users costs one read
// whoever is on call. In a larger one, reading on is worth it only while it
// is cheaper than asking for the people still missing one by one. The
// listing stops when the pages read are as many as the people still missing
// (so the reads never reach twice one lookup per person), or when the pages
// read found no more than one person each on average (the on-call people
// are a small part of the users: one lookup each is cheaper). The order of
// the list is strongDM's; with the on-call people spread through it, the
// listing is read to its end only when that is the cheaper way.
func (r *run) listUsers(ctx context.Context, emails []string) (map[string]strongdm.Account, []string, error) {
	found := make(map[string]strongdm.Account, len(emails))
	if len(emails) == 0 {
		return found, nil, nil
	}
	want := make(map[string]bool, len(emails))
	for _, e := range emails {
		want[e] = true
	}
	pages, complete := 0, false
	err := r.sdm.ListAccountsPages(ctx, "type:user", func(page []strongdm.Account, last bool) bool {
		pages++
		for _, a := range page {
			e := strings.ToLower(a.Email)
			if _, dup := found[e]; a.Kind == "user" && want[e] && !dup {
				found[e] = a
			}
		}
		complete = last
		left := len(emails) - len(found)
		return left > 0 && pages < left && pages < len(found)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list the strongDM users: %w", err)
	}
	if complete {
		// Whoever the whole listing did not show has no strongDM user.
		return found, nil, nil
	}
	var missing []string
	for _, e := range emails {
		if _, ok := found[e]; !ok {
			missing = append(missing, e)
		}
	}
	return found, missing, nil
}

// roleAccess fills in.RoleAccess for the managed resources where a role can
// change the plan. A role matters only for a shift that grants do not
// already cover, so a plan made without roles tells which resources have
// such shifts, and only those are asked who reaches them (one
// AccountResources listing each). AccountResources cannot replace the
// grant listing: it leaves out grants that have not started, and gives no
// start times. A run with nothing to write asks nothing. A pair that a
// grant covers and a role reaches too is then reported as covered rather
// than as role access; either way nothing is written.
func (r *run) roleAccess(ctx context.Context, in *plan.Input) error {
	draft := *in
	draft.MaxChanges = 0 // the cap is checked on the real plan
	p, err := plan.Make(draft)
	if err != nil {
		return fmt.Errorf("plan without roles: %w", err)
	}
	needed := make(map[string]bool)
	for _, a := range p.Actions {
		switch a.Kind {
		case plan.Create, plan.Extend, plan.Deferred:
			needed[a.Resource.ID] = true
		}
	}
	var resources []strongdm.Resource
	for _, x := range in.Resources {
		if needed[x.ID] {
			resources = append(resources, x)
		}
	}
	access := make([][]strongdm.AccountResource, len(resources))
	err = r.each(ctx, len(resources), func(ctx context.Context, i int) error {
		rf, err := strongdm.QuoteFilter("resourceid:?", resources[i].ID)
		if err != nil {
			return err
		}
		if access[i], err = r.sdm.ListAccountResources(ctx, rf); err != nil {
			return fmt.Errorf("list who can reach %s: %w", resources[i].Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, rows := range access {
		for _, a := range rows {
			if a.RoleID != "" {
				in.RoleAccess[a.AccountID+"/"+a.ResourceID] = true
			}
		}
	}
	return nil
}
