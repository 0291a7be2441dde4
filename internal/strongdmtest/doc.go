// Package strongdmtest is an emulator of the strongDM control-plane API for
// tests, benchmarks and the sandbox: a real gRPC server over TLS on
// 127.0.0.1, with a CA and certificate made at start and random API keys.
//
// It serves Resources.List, Accounts.List, AccountResources.List and
// AccountGrants.List, Create and Delete, and checks every call as strongDM
// does: the access key, the request signature (over the bytes received,
// dated by the emulator's clock) and the API version. List filters take the
// forms name:, email:, type:, id:, resourceid: (or resource_id:),
// accountid: (or account_id:), roleid:, firstname:, lastname:, suspended:
// and tag:"k"="v"; values are bare or JSON-quoted, matching ignores case,
// name and email values may hold * wildcards, terms separated by spaces or
// commas must all match, except that repeated id: terms are alternatives.
// An unknown field is INVALID_ARGUMENT.
//
// Grants follow what is known of strongDM: a grant without start_from starts
// now; an account holds at most one unexpired grant of a resource (a second
// Create is ALREADY_EXISTS, unless AllowMultipleGrants); grants whose
// valid_until has passed are dropped. AccountResources rows come from the
// organisation's role access and from the grants that have started.
//
// Tests script outages with Fail, slow calls with SetLatency, and time with
// SetClock, and count calls with Calls, Reads and Writes.
//
// An organisation is loaded from Go values or from JSON (LoadOrg):
//
//	{
//	  "resources": [
//	    {"id": "rs-1", "name": "prod db", "type": "postgres", "tags": {"env": "prod"}},
//	    {"id": "rs-2", "name": "bastion", "type": "ssh"}
//	  ],
//	  "accounts": [
//	    {"id": "a-1", "type": "user", "email": "alice@example.com",
//	     "first_name": "Alice", "last_name": "Example"},
//	    {"id": "a-2", "type": "service", "name": "ci-bot", "suspended": true}
//	  ],
//	  "grants": [
//	    {"id": "ag-1", "account_id": "a-1", "resource_id": "rs-2",
//	     "start_from": "2026-03-08T09:00:00Z", "valid_until": "2026-03-09T09:00:00Z",
//	     "access_request_id": "ar-1"}
//	  ],
//	  "role_access": [
//	    {"account_id": "a-1", "resource_id": "rs-1", "role_id": "r-1"}
//	  ]
//	}
//
// Resource types are member names of the v1.Resource oneof ("postgres",
// "ssh", "ssh_cert", "amazon_eks", ...); account types are "user",
// "service" or "token"; grant times are RFC 3339 and may be left out (no
// start: now; no end: the grant does not expire).
package strongdmtest
