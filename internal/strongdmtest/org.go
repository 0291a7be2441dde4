package strongdmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/oncall-access/oncall-access/internal/strongdm"
)

// Org is the state an emulator starts from: its resources, accounts, grants
// and role-based access. The JSON form is described in the package doc.
type Org struct {
	Resources  []Resource   `json:"resources"`
	Accounts   []Account    `json:"accounts"`
	Grants     []Grant      `json:"grants"`
	RoleAccess []RoleAccess `json:"role_access"`
}

// Resource is a strongdm.Resource with JSON names; convert with
// strongdm.Resource(r). Type is a member name of the v1.Resource oneof, such
// as "postgres" or "ssh_cert"; case and underscores are ignored ("SSHCert").
type Resource struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Type string            `json:"type"`
	Tags map[string]string `json:"tags,omitempty"`
}

// Account is a strongdm.Account with JSON names; convert with
// strongdm.Account(a). Kind ("type" in JSON) is "user", "service" or "token".
type Account struct {
	ID        string `json:"id"`
	Kind      string `json:"type"`
	Email     string `json:"email,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Name      string `json:"name,omitempty"`
	Suspended bool   `json:"suspended,omitempty"`
}

// Grant is a strongdm.Grant with JSON names (times in RFC 3339); convert
// with strongdm.Grant(g). An empty ID gets a generated one.
type Grant struct {
	ID              string    `json:"id,omitempty"`
	ResourceID      string    `json:"resource_id"`
	AccountID       string    `json:"account_id"`
	Start           time.Time `json:"start_from,omitzero"`
	End             time.Time `json:"valid_until,omitzero"`
	AccessRequestID string    `json:"access_request_id,omitempty"`
}

// RoleAccess says that an account reaches a resource through a role, as
// AccountResources.List reports it.
type RoleAccess struct {
	AccountID  string `json:"account_id"`
	ResourceID string `json:"resource_id"`
	RoleID     string `json:"role_id"`
}

// LoadOrg reads an Org from a JSON file. Unknown keys are errors, so that a
// misspelt key does not silently leave a field empty.
func LoadOrg(path string) (Org, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Org{}, fmt.Errorf("load organisation: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var org Org
	if err := dec.Decode(&org); err != nil {
		return Org{}, fmt.Errorf("load organisation %s: %w", path, err)
	}
	return org, nil
}

// state is the emulator's data, validated and indexed.
type state struct {
	resources  []strongdm.Resource // Type holds the canonical oneof member name
	accounts   []strongdm.Account
	grants     []strongdm.Grant
	roleAccess []RoleAccess
	resByID    map[string]bool
	accByID    map[string]bool
}

// newState checks org: known resource types and account kinds, unique ids,
// grants and role access that name known accounts and resources.
func newState(org Org) (*state, error) {
	st := &state{resByID: make(map[string]bool), accByID: make(map[string]bool)}
	for _, r := range org.Resources {
		if r.ID == "" || st.resByID[r.ID] {
			return nil, fmt.Errorf("resource id %q is empty or repeated", r.ID)
		}
		fd := resourceField(r.Type)
		if fd == nil {
			return nil, fmt.Errorf("resource %s: unknown type %q", r.ID, r.Type)
		}
		r.Type = string(fd.Name())
		st.resByID[r.ID] = true
		st.resources = append(st.resources, strongdm.Resource(r))
	}
	for _, a := range org.Accounts {
		if a.ID == "" || st.accByID[a.ID] {
			return nil, fmt.Errorf("account id %q is empty or repeated", a.ID)
		}
		switch a.Kind {
		case "user", "service", "token":
		default:
			return nil, fmt.Errorf("account %s: type %q is not user, service or token", a.ID, a.Kind)
		}
		st.accByID[a.ID] = true
		st.accounts = append(st.accounts, strongdm.Account(a))
	}
	for _, ra := range org.RoleAccess {
		if !st.accByID[ra.AccountID] || !st.resByID[ra.ResourceID] {
			return nil, fmt.Errorf("role access %s: unknown account %q or resource %q",
				ra.RoleID, ra.AccountID, ra.ResourceID)
		}
		st.roleAccess = append(st.roleAccess, ra)
	}
	ids := make(map[string]bool)
	for _, g := range org.Grants {
		if !st.accByID[g.AccountID] || !st.resByID[g.ResourceID] {
			return nil, fmt.Errorf("grant %s: unknown account %q or resource %q", g.ID, g.AccountID, g.ResourceID)
		}
		if g.ID != "" && ids[g.ID] {
			return nil, fmt.Errorf("grant id %q is repeated", g.ID)
		}
		ids[g.ID] = true
		st.grants = append(st.grants, strongdm.Grant(g))
	}
	return st, nil
}
