package report

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Outputs returns the step outputs of a run: the counts created (grants
// created, extended or replaced), existing, revoked, unmatched and failed
// (failed or not attempted), and plan, a JSON array with one object per
// action. The counts say what was done: in a dry run the writes count zero
// and plan holds the "would" statuses.
//
// BUG(plan-size): plan is not cut to GitHub's 1 MB limit for one output;
// a plan of many thousand rows makes the runner refuse the outputs file.
func Outputs(s Summary) map[string]string {
	t := s.Totals()
	type action struct {
		Person   string `json:"person"`
		Email    string `json:"email"`
		Resource string `json:"resource"`
		Start    string `json:"start"`
		End      string `json:"end"`
		Status   Status `json:"status"`
	}
	actions := make([]action, len(s.Rows))
	for i, r := range s.Rows {
		a := r.Action
		email := a.Person.Email
		if s.Redact {
			email = MaskEmail(email)
		}
		actions[i] = action{
			Person:   a.Person.Name,
			Email:    email,
			Resource: a.Resource.Name,
			Start:    rfc3339(a.Start),
			End:      rfc3339(a.End),
			Status:   s.status(r),
		}
	}
	// Marshal of plain strings cannot fail.
	js, _ := json.Marshal(actions)
	return map[string]string{
		"created":   strconv.Itoa(t.Created + t.Extended),
		"existing":  strconv.Itoa(t.Existing),
		"revoked":   strconv.Itoa(t.Revoked),
		"unmatched": strconv.Itoa(t.Unmatched),
		"failed":    strconv.Itoa(t.Failed + t.NotAttempted),
		"plan":      string(js),
	}
}

// rfc3339 is t in UTC, or "" for the zero time (a grant with no end).
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// MaskEmail hides an email's local part but its first character, keeping
// the domain so a reader can still tell accounts apart by organisation:
// "alice@example.com" becomes "a***@example.com". Anything that is not an
// email becomes "***"; the empty string stays empty.
func MaskEmail(e string) string {
	if e == "" {
		return ""
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(e)
	return string(r) + "***" + e[at:]
}
