package oncall

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/PagerDuty/go-pagerduty"
)

// ConfigError is a problem with the configuration rather than with
// PagerDuty: a bad ID, a rejected token, an unknown schedule. Retrying
// cannot help; the named input must be fixed.
type ConfigError struct {
	Input string // the action input at fault, e.g. "pagerduty-schedules"
	Msg   string // what is wrong and what a good value looks like
	Err   error  // the underlying error, if any
}

// Error returns the input name and the message.
func (e *ConfigError) Error() string { return e.Input + ": " + e.Msg }

// Unwrap returns the underlying error, so that errors.As still finds the
// APIError (and pagerduty.APIError) behind a rejected token.
func (e *ConfigError) Unwrap() error { return e.Err }

// APIError is an answer from PagerDuty other than 2xx, after any retries.
type APIError struct {
	Method     string
	Path       string // the URL path, without the query
	StatusCode int
	// Message is PagerDuty's message and details, or the start of the raw
	// body when go-pagerduty could not decode it (C18).
	Message  string
	Attempts int
	Err      error // the pagerduty.APIError value from go-pagerduty
}

// Error reads like "pagerduty GET /oncalls answered 429 after 5 attempts:
// Rate Limit Exceeded".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pagerduty %s %s answered %d", e.Method, e.Path, e.StatusCode)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns go-pagerduty's error, a pagerduty.APIError value.
func (e *APIError) Unwrap() error { return e.Err }

// maxRawMessage bounds how much of an undecodable body goes into an error.
const maxRawMessage = 300

// describe says what PagerDuty said. go-pagerduty decodes the documented
// shape and the two known deviations (errors as a string, error as an array
// of strings); anything else falls back to the raw body.
func describe(pe pagerduty.APIError, raw []byte, token string) string {
	var parts []string
	if pe.APIError.Valid {
		o := pe.APIError.ErrorObject
		// go-pagerduty fills in "none" when error was an array of strings.
		if o.Message != "" && o.Message != "none" {
			parts = append(parts, o.Message)
		}
		for _, d := range o.Errors {
			if d = strings.TrimSpace(d); d != "" {
				parts = append(parts, d)
			}
		}
	}
	msg := strings.Join(parts, ": ")
	if msg == "" {
		msg = rawSnippet(raw)
	}
	if token != "" {
		// PagerDuty has no reason to echo the token, but a proxy might.
		msg = strings.ReplaceAll(msg, token, "[redacted]")
	}
	return msg
}

// rawSnippet turns a body into one short printable line.
func rawSnippet(raw []byte) string {
	s := strings.ToValidUTF8(string(raw), "?")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	if s == "" {
		return "empty body"
	}
	if len(s) > maxRawMessage {
		cut := maxRawMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return "body " + s
}
