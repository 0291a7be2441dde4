package job

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/oncall"
	"github.com/oncall-access/oncall-access/internal/plan"
	"github.com/oncall-access/oncall-access/internal/report"
	"github.com/oncall-access/oncall-access/internal/strongdm"
	"google.golang.org/grpc/codes"
)

// resources finds the managed resources: each name must match exactly one.
func (r *run) resources(ctx context.Context) ([]strongdm.Resource, error) {
	// Names are looked up side by side, then checked in input order.
	named := make([][]strongdm.Resource, len(r.cfg.Resources))
	err := r.each(ctx, len(r.cfg.Resources), func(ctx context.Context, i int) error {
		name := r.cfg.Resources[i]
		filter, err := strongdm.QuoteFilter("name:?", name)
		if err != nil {
			return fmt.Errorf("quote resource name %q: %w", name, err)
		}
		rs, err := r.sdm.ListResources(ctx, filter)
		if err != nil {
			return fmt.Errorf("look up resource %q in strongDM: %w", name, err)
		}
		// strongDM matches names case-insensitively and with wildcards; the
		// input promises an exact name.
		named[i] = slices.DeleteFunc(rs, func(x strongdm.Resource) bool { return x.Name != name })
		return nil
	})
	if err != nil {
		return nil, err
	}
	var found []strongdm.Resource
	var problems config.Problems
	for i, rs := range named {
		name := r.cfg.Resources[i]
		switch len(rs) {
		case 0:
			problems = append(problems, config.Problem{Input: "resources", Msg: fmt.Sprintf("no strongDM resource is named %q", name)})
		case 1:
			found = append(found, rs[0])
		default:
			problems = append(problems, config.Problem{Input: "resources", Msg: fmt.Sprintf("%d strongDM resources are named %q (%s); give a resource-filter that picks one", len(rs), name, ids(rs))})
		}
	}
	if r.cfg.ResourceFilter != "" {
		rs, err := r.sdm.ListResources(ctx, r.cfg.ResourceFilter)
		if err != nil {
			if strongdm.IsCode(err, codes.InvalidArgument) {
				return nil, config.Problems{{Input: "resource-filter", Msg: fmt.Sprintf("strongDM refused the filter %q: %v", r.cfg.ResourceFilter, err)}}
			}
			return nil, fmt.Errorf("list resources matching %q in strongDM: %w", r.cfg.ResourceFilter, err)
		}
		if len(rs) == 0 {
			problems = append(problems, config.Problem{Input: "resource-filter", Msg: fmt.Sprintf("no strongDM resource matches %q", r.cfg.ResourceFilter)})
		}
		for _, x := range rs {
			if !slices.ContainsFunc(found, func(y strongdm.Resource) bool { return y.ID == x.ID }) {
				found = append(found, x)
			}
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	for _, x := range found {
		r.log.Info("managed resource", "name", x.Name, "id", x.ID)
	}
	return found, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func nonZero(n int) []int {
	if n == 0 {
		return nil
	}
	return []int{n}
}

func ids(rs []strongdm.Resource) string {
	s := make([]string, len(rs))
	for i, x := range rs {
		s[i] = x.ID
	}
	return strings.Join(s, ", ")
}

// resolve finds the strongDM user of every person and the access that
// already exists on the managed resources.
func (r *run) resolve(ctx context.Context, shifts []plan.Shift, resources []strongdm.Resource, res oncall.Result) (plan.Input, error) {
	in := plan.Input{
		Now:         r.now,
		Shifts:      shifts,
		Resources:   resources,
		EmailMap:    r.cfg.EmailMap,
		RoleAccess:  map[string]bool{},
		Revoke:      r.cfg.Revoke,
		GracePeriod: r.cfg.GracePeriod,
		Complete:    true,
		MaxChanges:  r.cfg.MaxChanges,
	}
	var emails []string
	seen := make(map[string]bool)
	for _, s := range shifts {
		if e := r.strongDMEmail(s.Person.Email); e != "" && !seen[e] {
			seen[e] = true
			emails = append(emails, e)
		}
	}
	for _, e := range res.MemberEmails {
		if e = r.strongDMEmail(e); e != "" && !seen[e] {
			seen[e] = true
			emails = append(emails, e)
		}
	}

	// The users and the grants do not depend on each other: read them side
	// by side, under the one bound on concurrent calls. The listing of
	// users is a chain of pages, so it takes one slot; the people it leaves
	// unsettled are looked up after, not nested, to keep that bound.
	grants := make([][]strongdm.Grant, len(resources))
	var accounts map[string]strongdm.Account
	var missing []string
	err := r.each(ctx, 1+len(resources), func(ctx context.Context, i int) error {
		if i == 0 {
			var err error
			accounts, missing, err = r.listUsers(ctx, emails)
			return err
		}
		x := resources[i-1]
		rf, err := strongdm.QuoteFilter("resourceid:?", x.ID)
		if err != nil {
			return err
		}
		if grants[i-1], err = r.sdm.ListGrants(ctx, rf); err != nil {
			return fmt.Errorf("list grants on %s: %w", x.Name, err)
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	more, err := r.accounts(ctx, missing)
	if err != nil {
		return in, err
	}
	maps.Copy(accounts, more)
	in.Accounts = accounts
	if r.cfg.Revoke {
		in.Members = map[string]bool{}
		for _, e := range res.MemberEmails {
			if a, ok := accounts[r.strongDMEmail(e)]; ok {
				in.Members[a.ID] = true
			}
		}
		for _, s := range shifts {
			if a, ok := accounts[r.strongDMEmail(s.Person.Email)]; ok {
				in.Members[a.ID] = true
			}
		}
	}

	for i := range resources {
		in.Grants = append(in.Grants, grants[i]...)
	}
	if err := r.roleAccess(ctx, &in); err != nil {
		return in, err
	}
	return in, nil
}

// strongDMEmail is the strongDM email of a PagerDuty email, as the
// planner matches it.
func (r *run) strongDMEmail(pd string) string { return plan.StrongDMEmail(pd, r.cfg.EmailMap) }

// accounts looks up strongDM users by email, one lookup per person: for
// the people listUsers left unsettled.
func (r *run) accounts(ctx context.Context, emails []string) (map[string]strongdm.Account, error) {
	found := make([]*strongdm.Account, len(emails))
	err := r.each(ctx, len(emails), func(ctx context.Context, i int) error {
		f, err := strongdm.QuoteFilter("type:user email:?", emails[i])
		if err != nil {
			return err
		}
		as, err := r.sdm.ListAccounts(ctx, f)
		if err != nil {
			return fmt.Errorf("look up the strongDM user of %s: %w", report.MaskEmail(emails[i]), err)
		}
		for _, a := range as {
			// strongDM's filter is case-insensitive and allows wildcards;
			// only an exact (case-insensitive) email is the same person.
			if a.Kind == "user" && strings.EqualFold(a.Email, emails[i]) {
				found[i] = &a
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]strongdm.Account, len(emails))
	for i, a := range found {
		if a != nil {
			m[emails[i]] = *a
		}
	}
	return m, nil
}
