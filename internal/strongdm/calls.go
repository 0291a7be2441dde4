package strongdm

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

// Permissions the API key needs, named in PermissionDenied errors.
const (
	permGrantRead  = "grant:read"
	permGrantWrite = "grant:write"
	permResources  = "datasource:list"
	permAccounts   = "user:list"
	// strongDM does not document this one; these are the likely scopes.
	permAccountResources = "user:list and datasource:list"
)

// ListResources returns the resources matching filter (all when empty).
// Resources of a type the proto subset does not know are skipped with a
// warning: not even their id can be read.
func (c *Client) ListResources(ctx context.Context, filter string) ([]Resource, error) {
	o := op{"Resources.List", fmt.Sprintf("list resources with filter %q", filter), permResources}
	var out []Resource
	err := list(ctx, c, o, new(sdmpb.ResourceListResponse),
		func(meta *sdmpb.ListRequestMetadata) proto.Message {
			return &sdmpb.ResourceListRequest{Meta: meta, Filter: filter}
		},
		func(resp *sdmpb.ResourceListResponse) {
			for _, r := range resp.GetResources() {
				res, ok := resourceFromPB(r)
				if !ok {
					c.log.WarnContext(ctx, "strongdm resource of a type unknown to this client skipped")
					continue
				}
				out = append(out, res)
			}
		})
	return out, err
}

// ListAccounts returns the accounts (users, services and tokens) matching
// filter (all when empty).
func (c *Client) ListAccounts(ctx context.Context, filter string) ([]Account, error) {
	o := op{"Accounts.List", fmt.Sprintf("list accounts with filter %q", filter), permAccounts}
	var out []Account
	err := list(ctx, c, o, new(sdmpb.AccountListResponse),
		func(meta *sdmpb.ListRequestMetadata) proto.Message {
			return &sdmpb.AccountListRequest{Meta: meta, Filter: filter}
		},
		func(resp *sdmpb.AccountListResponse) {
			for _, a := range resp.GetAccounts() {
				if acc, ok := accountFromPB(a); ok {
					out = append(out, acc)
				}
			}
		})
	return out, err
}

// ListGrants returns the account grants matching filter (all when empty).
func (c *Client) ListGrants(ctx context.Context, filter string) ([]Grant, error) {
	o := op{"AccountGrants.List", fmt.Sprintf("list grants with filter %q", filter), permGrantRead}
	var out []Grant
	err := list(ctx, c, o, new(sdmpb.AccountGrantListResponse),
		func(meta *sdmpb.ListRequestMetadata) proto.Message {
			return &sdmpb.AccountGrantListRequest{Meta: meta, Filter: filter}
		},
		func(resp *sdmpb.AccountGrantListResponse) {
			for _, g := range resp.GetAccountGrants() {
				out = append(out, grantFromPB(g))
			}
		})
	return out, err
}

// ListAccountResources returns which accounts reach which resources, and
// through which role or grant, for the rows matching filter.
func (c *Client) ListAccountResources(ctx context.Context, filter string) ([]AccountResource, error) {
	o := op{"AccountResources.List", fmt.Sprintf("list account resources with filter %q", filter), permAccountResources}
	var out []AccountResource
	err := list(ctx, c, o, new(sdmpb.AccountResourceListResponse),
		func(meta *sdmpb.ListRequestMetadata) proto.Message {
			return &sdmpb.AccountResourceListRequest{Meta: meta, Filter: filter}
		},
		func(resp *sdmpb.AccountResourceListResponse) {
			for _, ar := range resp.GetAccountResources() {
				out = append(out, AccountResource{
					AccountID:  ar.GetAccountId(),
					ResourceID: ar.GetResourceId(),
					RoleID:     ar.GetRoleId(),
					GrantID:    ar.GetAccountGrantId(),
					ExpiresAt:  timeFromPB(ar.GetExpiresAt()),
				})
			}
		})
	return out, err
}

// CreateGrant grants g.ResourceID to g.AccountID from g.Start (zero: now,
// set by the server) until g.End (zero: no end) and returns the grant made.
// g.ID and g.AccessRequestID are ignored. When a retry after a timeout finds
// the grant already there, the error wraps ErrExistsAfterRetry.
func (c *Client) CreateGrant(ctx context.Context, g Grant) (Grant, error) {
	what := fmt.Sprintf("create grant of resource %s to account %s", g.ResourceID, g.AccountID)
	if g.ResourceID == "" || g.AccountID == "" {
		return Grant{}, fmt.Errorf("%s: resource and account ids are required", what)
	}
	if !g.Start.IsZero() && !g.End.IsZero() && !g.End.After(g.Start) {
		return Grant{}, fmt.Errorf("%s: end %s is not after start %s", what,
			g.End.Format(time.RFC3339), g.Start.Format(time.RFC3339))
	}

	// The SDK always sends an empty meta and the access rule "{}" of a plain
	// grant, and leaves zero times out; doing the same keeps the bytes equal.
	req := &sdmpb.AccountGrantCreateRequest{
		Meta: &sdmpb.CreateRequestMetadata{},
		AccountGrant: &sdmpb.AccountGrant{
			ResourceId: g.ResourceID,
			AccountId:  g.AccountID,
			StartFrom:  timeToPB(g.Start),
			ValidUntil: timeToPB(g.End),
			AccessRule: "{}",
		},
	}
	resp := new(sdmpb.AccountGrantCreateResponse)
	if err := c.call(ctx, op{"AccountGrants.Create", what, permGrantWrite}, req, resp); err != nil {
		return Grant{}, err
	}
	if resp.GetAccountGrant() == nil {
		return Grant{}, fmt.Errorf("%s: the answer holds no grant", what)
	}
	return grantFromPB(resp.GetAccountGrant()), nil
}

// DeleteGrant deletes the account grant with this id.
func (c *Client) DeleteGrant(ctx context.Context, id string) error {
	what := fmt.Sprintf("delete grant %s", id)
	if id == "" {
		return fmt.Errorf("%s: grant id is required", what)
	}
	req := &sdmpb.AccountGrantDeleteRequest{Meta: &sdmpb.DeleteRequestMetadata{}, Id: id}
	return c.call(ctx, op{"AccountGrants.Delete", what, permGrantWrite}, req, new(sdmpb.AccountGrantDeleteResponse))
}

// listResponse is what every List response has.
type listResponse interface {
	proto.Message
	GetMeta() *sdmpb.ListResponseMetadata
}

// list calls a List method until the server returns no next cursor, as
// listUntil does, handing every page to page.
func list[R listResponse](ctx context.Context, c *Client, o op, resp R,
	request func(*sdmpb.ListRequestMetadata) proto.Message, page func(R)) error {
	return listUntil(ctx, c, o, resp, request, func(r R) bool { page(r); return true })
}

func resourceFromPB(r *sdmpb.Resource) (Resource, bool) {
	m := r.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("resource"))
	if fd == nil {
		return Resource{}, false
	}
	// Every member of the oneof is a ResourceCommon in the subset.
	rc, ok := m.Get(fd).Message().Interface().(*sdmpb.ResourceCommon)
	if !ok {
		return Resource{}, false
	}
	return Resource{
		ID:   rc.GetId(),
		Name: rc.GetName(),
		Type: string(fd.Name()),
		Tags: tagsFromPB(rc.GetTags()),
	}, true
}

func accountFromPB(a *sdmpb.Account) (Account, bool) {
	switch {
	case a.GetUser() != nil:
		u := a.GetUser()
		return Account{
			ID: u.GetId(), Kind: "user", Email: u.GetEmail(),
			FirstName: u.GetFirstName(), LastName: u.GetLastName(), Suspended: u.GetSuspended(),
		}, true
	case a.GetService() != nil:
		s := a.GetService()
		return Account{ID: s.GetId(), Kind: "service", Name: s.GetName(), Suspended: s.GetSuspended()}, true
	case a.GetToken() != nil:
		t := a.GetToken()
		return Account{ID: t.GetId(), Kind: "token", Name: t.GetName(), Suspended: t.GetSuspended()}, true
	}
	return Account{}, false
}

func grantFromPB(g *sdmpb.AccountGrant) Grant {
	return Grant{
		ID:              g.GetId(),
		ResourceID:      g.GetResourceId(),
		AccountID:       g.GetAccountId(),
		Start:           timeFromPB(g.GetStartFrom()),
		End:             timeFromPB(g.GetValidUntil()),
		AccessRequestID: g.GetAccessRequestId(),
	}
}

func tagsFromPB(t *sdmpb.Tags) map[string]string {
	if len(t.GetPairs()) == 0 {
		return nil
	}
	m := make(map[string]string, len(t.GetPairs()))
	for _, p := range t.GetPairs() {
		m[p.GetName()] = p.GetValue()
	}
	return m
}

// timeFromPB maps an unset timestamp to the zero time (the SDK uses the
// Unix epoch; zero is what Grant documents).
func timeFromPB(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// timeToPB leaves a zero time unset, as the SDK does.
func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
