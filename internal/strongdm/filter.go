package strongdm

import (
	"encoding/json"
	"fmt"
	"strings"
)

// QuoteFilter fills the ? placeholders of a strongDM list filter the way the
// official SDK does, so that requests match it byte for byte: every argument
// is formatted with fmt.Sprint and then quoted as a JSON string (which also
// escapes <, > and & as \u003c, \u003e and \u0026). Because the template is
// split on every ?, a literal ? cannot appear in it.
//
//	QuoteFilter("email:?", "a@b.com") // email:"a@b.com"
func QuoteFilter(tmpl string, args ...any) (string, error) {
	parts := strings.Split(tmpl, "?")
	if len(parts) != len(args)+1 {
		return "", fmt.Errorf("filter %q has %d placeholders for %d arguments", tmpl, len(parts)-1, len(args))
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for i, arg := range args {
		q, err := json.Marshal(fmt.Sprint(arg))
		if err != nil {
			// Marshalling a string cannot fail; keep the check for safety.
			return "", fmt.Errorf("quote filter argument %d: %w", i+1, err)
		}
		b.Write(q)
		b.WriteString(parts[i+1])
	}
	return b.String(), nil
}
