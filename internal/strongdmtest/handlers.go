package strongdmtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oncall-access/oncall-access/internal/strongdm"
	"github.com/oncall-access/oncall-access/internal/strongdm/sdmpb"
)

// defaultPageSize is strongDM's page size when a list call sets no limit.
const defaultPageSize = 50

// handler serves one method with the lock held.
type handler func(s *Server, body []byte) (proto.Message, error)

var handlers = map[string]handler{
	"Resources.List":        (*Server).listResources,
	"Accounts.List":         (*Server).listAccounts,
	"AccountGrants.List":    (*Server).listGrants,
	"AccountGrants.Create":  (*Server).createGrant,
	"AccountGrants.Delete":  (*Server).deleteGrant,
	"AccountResources.List": (*Server).listAccountResources,
}

// Fields each kind can be filtered on, normalised as normField does.
var (
	resourceFields        = fieldSet("id", "name", "type", "tag")
	accountFields         = fieldSet("id", "email", "firstname", "lastname", "name", "type", "suspended")
	grantFields           = fieldSet("id", "resourceid", "accountid")
	accountResourceFields = fieldSet("accountid", "resourceid", "roleid", "accountgrantid")
)

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (s *Server) listResources(body []byte) (proto.Message, error) {
	var req sdmpb.ResourceListRequest
	terms, err := decodeList(body, &req, req.GetFilter, resourceFields)
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(s, req.GetMeta(), terms, s.st.resources, func(r strongdm.Resource) record {
		return record{fields: map[string]string{"id": r.ID, "name": r.Name, "type": r.Type}, tags: r.Tags}
	})
	if err != nil {
		return nil, err
	}
	resp := &sdmpb.ResourceListResponse{Meta: &sdmpb.ListResponseMetadata{NextCursor: next}, RateLimit: s.rateLimit()}
	for _, r := range items {
		resp.Resources = append(resp.Resources, resourceToPB(r))
	}
	return resp, nil
}

func (s *Server) listAccounts(body []byte) (proto.Message, error) {
	var req sdmpb.AccountListRequest
	terms, err := decodeList(body, &req, req.GetFilter, accountFields)
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(s, req.GetMeta(), terms, s.st.accounts, func(a strongdm.Account) record {
		name := a.Name
		if a.Kind == "user" {
			name = strings.TrimSpace(a.FirstName + " " + a.LastName)
		}
		return record{fields: map[string]string{
			"id": a.ID, "email": a.Email, "firstname": a.FirstName, "lastname": a.LastName,
			"name": name, "type": a.Kind, "suspended": strconv.FormatBool(a.Suspended),
		}}
	})
	if err != nil {
		return nil, err
	}
	resp := &sdmpb.AccountListResponse{Meta: &sdmpb.ListResponseMetadata{NextCursor: next}, RateLimit: s.rateLimit()}
	for _, a := range items {
		resp.Accounts = append(resp.Accounts, accountToPB(a))
	}
	return resp, nil
}

func (s *Server) listGrants(body []byte) (proto.Message, error) {
	var req sdmpb.AccountGrantListRequest
	terms, err := decodeList(body, &req, req.GetFilter, grantFields)
	if err != nil {
		return nil, err
	}
	items, next, err := listPage(s, req.GetMeta(), terms, s.st.grants, func(g strongdm.Grant) record {
		return record{fields: map[string]string{"id": g.ID, "resourceid": g.ResourceID, "accountid": g.AccountID}}
	})
	if err != nil {
		return nil, err
	}
	resp := &sdmpb.AccountGrantListResponse{Meta: &sdmpb.ListResponseMetadata{NextCursor: next}, RateLimit: s.rateLimit()}
	for _, g := range items {
		resp.AccountGrants = append(resp.AccountGrants, grantToPB(g))
	}
	return resp, nil
}

// listAccountResources reports role access, then the grants that have
// started.
func (s *Server) listAccountResources(body []byte) (proto.Message, error) {
	var req sdmpb.AccountResourceListRequest
	terms, err := decodeList(body, &req, req.GetFilter, accountResourceFields)
	if err != nil {
		return nil, err
	}
	var rows []*sdmpb.AccountResource
	for _, ra := range s.st.roleAccess {
		rows = append(rows, &sdmpb.AccountResource{AccountId: ra.AccountID, ResourceId: ra.ResourceID, RoleId: ra.RoleID})
	}
	now := s.now()
	for _, g := range s.st.grants {
		if g.Start.After(now) {
			continue
		}
		rows = append(rows, &sdmpb.AccountResource{
			AccountId: g.AccountID, ResourceId: g.ResourceID, AccountGrantId: g.ID,
			GrantedAt: timeToPB(g.Start), ExpiresAt: timeToPB(g.End),
		})
	}
	items, next, err := listPage(s, req.GetMeta(), terms, rows, func(r *sdmpb.AccountResource) record {
		return record{fields: map[string]string{
			"accountid": r.AccountId, "resourceid": r.ResourceId, "roleid": r.RoleId, "accountgrantid": r.AccountGrantId,
		}}
	})
	if err != nil {
		return nil, err
	}
	return &sdmpb.AccountResourceListResponse{
		Meta:             &sdmpb.ListResponseMetadata{NextCursor: next},
		AccountResources: items,
		RateLimit:        s.rateLimit(),
	}, nil
}

func (s *Server) createGrant(body []byte) (proto.Message, error) {
	var req sdmpb.AccountGrantCreateRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot decode request: %v", err)
	}
	in := req.GetAccountGrant()
	switch {
	case in == nil:
		return nil, status.Error(codes.InvalidArgument, "account grant is required")
	case !s.st.accByID[in.GetAccountId()]:
		return nil, status.Errorf(codes.NotFound, "account %q not found", in.GetAccountId())
	case !s.st.resByID[in.GetResourceId()]:
		return nil, status.Errorf(codes.NotFound, "resource %q not found", in.GetResourceId())
	case in.GetAccessRule() != "" && !json.Valid([]byte(in.GetAccessRule())):
		return nil, status.Error(codes.InvalidArgument, "access rule is not valid JSON")
	}

	// An unset start means now, as the proto comment says.
	now := s.now()
	g := strongdm.Grant{ResourceID: in.GetResourceId(), AccountID: in.GetAccountId(), Start: now}
	if in.GetStartFrom() != nil {
		g.Start = in.GetStartFrom().AsTime()
	}
	if in.GetValidUntil() != nil {
		g.End = in.GetValidUntil().AsTime()
		if !g.End.After(g.Start) {
			return nil, status.Error(codes.InvalidArgument, "valid until must be after start from")
		}
	}
	if !s.allowMultiple {
		for _, old := range s.st.grants {
			if old.AccountID == g.AccountID && old.ResourceID == g.ResourceID {
				return nil, status.Error(codes.AlreadyExists, "account grant already exists")
			}
		}
	}
	g.ID = s.newGrantIDLocked()
	s.st.grants = append(s.st.grants, g)
	return &sdmpb.AccountGrantCreateResponse{
		Meta:         &sdmpb.CreateResponseMetadata{},
		AccountGrant: grantToPB(g),
		RateLimit:    s.rateLimit(),
	}, nil
}

func (s *Server) deleteGrant(body []byte) (proto.Message, error) {
	var req sdmpb.AccountGrantDeleteRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot decode request: %v", err)
	}
	i := s.grantIndexLocked(req.GetId())
	if i < 0 {
		return nil, status.Errorf(codes.NotFound, "account grant %q not found", req.GetId())
	}
	s.st.grants = append(s.st.grants[:i:i], s.st.grants[i+1:]...)
	return &sdmpb.AccountGrantDeleteResponse{Meta: &sdmpb.DeleteResponseMetadata{}, RateLimit: s.rateLimit()}, nil
}

// decodeList decodes a list request into req and parses its filter; filter
// is req's GetFilter, called after decoding.
func decodeList(body []byte, req proto.Message, filter func() string, known map[string]bool) ([]term, error) {
	if err := proto.Unmarshal(body, req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot decode request: %v", err)
	}
	terms, err := parseFilter(filter(), known)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return terms, nil
}

// listPage returns the page of all that matches terms, and the next cursor.
// With PageBeforeFilter it cuts the page first and filters it after, so
// pages can be short or empty while a cursor still follows.
func listPage[T any](s *Server, meta *sdmpb.ListRequestMetadata, terms []term, all []T,
	rec func(T) record) ([]T, string, error) {
	keep := func(items []T) []T {
		var out []T
		for _, it := range items {
			if matches(terms, rec(it)) {
				out = append(out, it)
			}
		}
		return out
	}
	if s.pageBeforeFilter {
		items, next, err := page(meta, all)
		return keep(items), next, err
	}
	return page(meta, keep(all))
}

// page cuts one page out of items. The cursor carries the offset and the
// page size, since strongDM ignores limit once a cursor is given.
func page[T any](meta *sdmpb.ListRequestMetadata, items []T) ([]T, string, error) {
	offset, size := 0, defaultPageSize
	if meta.GetLimit() > 0 {
		size = int(meta.GetLimit())
	}
	if c := meta.GetCursor(); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err == nil {
			_, err = fmt.Sscanf(string(raw), "%d:%d", &offset, &size)
		}
		if err != nil || offset < 0 || size <= 0 || offset > len(items) {
			return nil, "", status.Errorf(codes.InvalidArgument, "invalid cursor %q", c)
		}
	}
	end := min(offset+size, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%d", end, size))
	}
	return items[offset:end], next, nil
}

// rateLimit is the rate_limit of successful answers: the emulator does not
// limit, so the bucket is always full.
func (s *Server) rateLimit() *sdmpb.RateLimitMetadata {
	return &sdmpb.RateLimitMetadata{
		Limit: 5000, Remaining: 5000, ResetAt: timestamppb.New(s.now().Add(time.Minute)), Bucket: "default",
	}
}

var resourceOneof = (&sdmpb.Resource{}).ProtoReflect().Descriptor().Oneofs().ByName("resource")

// resourceField returns the oneof member for a resource type, ignoring case
// and underscores, or nil.
func resourceField(typ string) protoreflect.FieldDescriptor {
	fields := resourceOneof.Fields()
	for i := range fields.Len() {
		if normField(string(fields.Get(i).Name())) == normField(typ) {
			return fields.Get(i)
		}
	}
	return nil
}

func resourceToPB(r strongdm.Resource) *sdmpb.Resource {
	rc := &sdmpb.ResourceCommon{Id: r.ID, Name: r.Name, Healthy: true, Tags: tagsToPB(r.Tags)}
	pb := &sdmpb.Resource{}
	pb.ProtoReflect().Set(resourceField(r.Type), protoreflect.ValueOfMessage(rc.ProtoReflect()))
	return pb
}

func accountToPB(a strongdm.Account) *sdmpb.Account {
	switch a.Kind {
	case "service":
		return &sdmpb.Account{Account: &sdmpb.Account_Service{Service: &sdmpb.Service{
			Id: a.ID, Name: a.Name, Suspended: a.Suspended,
		}}}
	case "token":
		return &sdmpb.Account{Account: &sdmpb.Account_Token{Token: &sdmpb.Token{
			Id: a.ID, Name: a.Name, Suspended: a.Suspended, AccountType: "api",
		}}}
	}
	return &sdmpb.Account{Account: &sdmpb.Account_User{User: &sdmpb.User{
		Id: a.ID, Email: a.Email, FirstName: a.FirstName, LastName: a.LastName,
		Suspended: a.Suspended, PermissionLevel: "user",
	}}}
}

func grantToPB(g strongdm.Grant) *sdmpb.AccountGrant {
	return &sdmpb.AccountGrant{
		Id: g.ID, ResourceId: g.ResourceID, AccountId: g.AccountID,
		StartFrom: timeToPB(g.Start), ValidUntil: timeToPB(g.End),
		AccessRule: "{}", AccessRequestId: g.AccessRequestID,
	}
}

// tagsToPB sorts the pairs so answers are deterministic.
func tagsToPB(tags map[string]string) *sdmpb.Tags {
	if len(tags) == 0 {
		return nil
	}
	t := &sdmpb.Tags{}
	for k, v := range tags {
		t.Pairs = append(t.Pairs, &sdmpb.Tags_Pair{Name: k, Value: v})
	}
	sort.Slice(t.Pairs, func(i, j int) bool { return t.Pairs[i].Name < t.Pairs[j].Name })
	return t
}

func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
