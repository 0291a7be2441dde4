package oncall

import (
	"fmt"
	"time"
)

// maxIDLen is generous: classic IDs have 7 characters, newer ones 14.
const maxIDLen = 32

// ValidID reports whether id is made only of PagerDuty's ID alphabet
// (upper-case letters and digits). go-pagerduty puts IDs into paths without
// escaping, so every ID is checked before it goes into a path or a query.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// parseTime reads a PagerDuty time. PagerDuty renders times in the
// requested, schedule or account zone, so any offset is accepted, not only
// Z (C01); the result is in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		// time.ParseError already quotes the value.
		return time.Time{}, fmt.Errorf("not an RFC 3339 time: %w", err)
	}
	// An offset can move a time at the edge of RFC 3339's four-digit years
	// past them in UTC (found by FuzzParseTime), where it could no longer be
	// written as RFC 3339 or as a strongDM timestamp.
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("time %q is outside the years 0000 to 9999 in UTC", s)
	}
	return t.UTC(), nil
}
