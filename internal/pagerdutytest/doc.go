// Package pagerdutytest is an emulator of the parts of PagerDuty's REST API
// that oncall-access uses, served over plain HTTP on a loopback port, in
// the manner of net/http/httptest.
//
// It answers, for the token it prints (Authorization: Token token=...):
//
//   - GET /oncalls with schedule_ids[], escalation_policy_ids[], user_ids[]
//     (different filters ANDed, IDs within one ORed), since and until
//     (default now; 400 when until is before since or the window exceeds
//     90 days), time_zone (default the org's), include[]=users (full users
//     with email; deleted users stay references), earliest, total, limit
//     (default 25, capped at 100) and offset (400 past 10000), with more;
//   - GET /schedules/{id} with time_zone, since, until and overflow: the
//     final schedule's entries (only when since or until is given, cut at
//     the window unless overflow), users and escalation policies; 404 with
//     {"error":{"message":"Not Found","code":2100}} for an unknown ID;
//   - GET /schedules/{id}/users and GET /users/{id} (404 for a deleted
//     user);
//   - ratelimit-limit, ratelimit-remaining and ratelimit-reset headers, and
//     PagerDuty's error bodies (401 without the token).
//
// Responses follow the real API where it differs from PagerDuty's OpenAPI
// document: full users under include[]=users, null start, end and schedule,
// the page-size default and cap, the rate-limit headers.
//
// Tests script it: Fail answers the next N requests to a path with a given
// status (429 with ratelimit-reset, 5xx), SetLatency delays answers through
// an injectable sleep, SetBody serves an exact body, and Requests, Calls
// and Total count what was asked.
//
// An Org is usually loaded from JSON with LoadOrg. Times are RFC 3339;
// those ending in Z are rendered in the requested time zone, others are
// served as written. An empty start, end or schedule_id is served as null.
//
//	{
//	  "time_zone": "UTC",
//	  "users": [
//	    {"id": "PALICE1", "name": "Alice", "email": "alice@example.com"},
//	    {"id": "PCAROL1", "name": "Carol", "email": "carol@example.com"},
//	    {"id": "PGHOST1", "name": "Ghost", "deleted": true}
//	  ],
//	  "escalation_policies": [{"id": "PEP0001", "name": "Primary"}],
//	  "schedules": [
//	    {"id": "PSCHED1", "name": "Primary", "time_zone": "Europe/Paris",
//	     "users": ["PALICE1"], "escalation_policies": ["PEP0001"],
//	     "final_schedule": [{"user_id": "PALICE1",
//	       "start": "2026-03-06T17:00:00Z", "end": "2026-03-07T17:00:00Z"}]}
//	  ],
//	  "oncalls": [
//	    {"user_id": "PALICE1", "schedule_id": "PSCHED1",
//	     "escalation_policy_id": "PEP0001", "escalation_level": 1,
//	     "start": "2026-03-06T18:00:00+01:00", "end": "2026-03-07T18:00:00+01:00"},
//	    {"user_id": "PCAROL1", "escalation_policy_id": "PEP0001",
//	     "escalation_level": 1}
//	  ]
//	}
package pagerdutytest
