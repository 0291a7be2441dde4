package strongdm

import "time"

// Resource is a strongDM resource (a datasource, server, cluster, ...),
// reduced to the fields every resource type shares.
type Resource struct {
	ID   string
	Name string
	Type string // the oneof member name, such as "postgres" or "ssh"
	Tags map[string]string
}

// Account is a strongDM account of kind user, service or token.
type Account struct {
	ID        string
	Kind      string // "user", "service" or "token"
	Email     string // users only
	FirstName string
	LastName  string
	Name      string // services and tokens
	Suspended bool
}

// Grant is a temporary (or, with a zero End, permanent) grant of one
// resource to one account.
type Grant struct {
	ID              string
	ResourceID      string
	AccountID       string
	Start           time.Time // zero when unset
	End             time.Time // zero when unset: the grant does not expire
	AccessRequestID string    // set when an access request made the grant
}

// AccountResource says that an account can reach a resource, and why:
// through a role (RoleID) or a grant (GrantID).
type AccountResource struct {
	AccountID  string
	ResourceID string
	RoleID     string
	GrantID    string
	ExpiresAt  time.Time // zero when access does not expire
}
