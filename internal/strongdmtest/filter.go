package strongdmtest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// term is one field:value of a list filter.
type term struct {
	field  string // lower case, underscores removed: "resource_id" is "resourceid"
	key    string // the tag name, for field "tag"
	value  string
	hasVal bool // false for a bare tag:"k", which asks for the key only
}

// record is what a filter sees of one listed item.
type record struct {
	fields map[string]string // normalised field name → value
	tags   map[string]string // nil when the item has no tags
}

// wildcardFields may hold * in their values.
var wildcardFields = map[string]bool{"name": true, "email": true, "firstname": true, "lastname": true}

// parseFilter splits a filter into terms and checks every field against
// known, the normalised fields of the listed kind ("tag" included when the
// kind has tags).
func parseFilter(s string, known map[string]bool) ([]term, error) {
	var terms []term
	i := 0
	for {
		for i < len(s) && isSep(s[i]) {
			i++
		}
		if i == len(s) {
			return terms, nil
		}
		colon := strings.IndexByte(s[i:], ':')
		if colon <= 0 {
			return nil, fmt.Errorf("filter %q: term at offset %d is not field:value", s, i)
		}
		t := term{field: normField(s[i : i+colon])}
		if !known[t.field] {
			return nil, fmt.Errorf("filter %q: unknown field %q", s, s[i:i+colon])
		}
		i += colon + 1

		var err error
		if t.field == "tag" {
			if t.key, i, err = token(s, i, true); err != nil {
				return nil, err
			}
			if i < len(s) && s[i] == '=' {
				t.hasVal = true
				t.value, i, err = token(s, i+1, false)
			}
		} else {
			t.hasVal = true
			t.value, i, err = token(s, i, false)
		}
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
}

// token reads a bare or JSON-quoted value at s[i:], stopping at a
// separator (or at = when inTagKey), and returns the index after it.
func token(s string, i int, inTagKey bool) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		j := i + 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return "", 0, fmt.Errorf("filter %q: unterminated quote at offset %d", s, i)
		}
		var v string
		if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
			return "", 0, fmt.Errorf("filter %q: bad quoted value at offset %d: %w", s, i, err)
		}
		j++
		if j < len(s) && !isSep(s[j]) && !(inTagKey && s[j] == '=') {
			return "", 0, fmt.Errorf("filter %q: text after the quoted value at offset %d", s, j)
		}
		return v, j, nil
	}
	j := i
	for j < len(s) && !isSep(s[j]) && !(inTagKey && s[j] == '=') {
		j++
	}
	if j == i {
		return "", 0, fmt.Errorf("filter %q: empty value at offset %d", s, i)
	}
	return s[i:j], j, nil
}

func isSep(c byte) bool { return c == ' ' || c == ',' || c == '\t' || c == '\n' }

func normField(f string) string {
	return strings.ReplaceAll(strings.ToLower(f), "_", "")
}

// matches reports whether r passes every term; id terms are alternatives.
func matches(terms []term, r record) bool {
	idTerms, idMatch := 0, false
	for _, t := range terms {
		ok := t.matches(r)
		if t.field == "id" {
			idTerms++
			idMatch = idMatch || ok
			continue
		}
		if !ok {
			return false
		}
	}
	return idTerms == 0 || idMatch
}

func (t term) matches(r record) bool {
	if t.field == "tag" {
		for k, v := range r.tags {
			if strings.EqualFold(k, t.key) && (!t.hasVal || strings.EqualFold(v, t.value)) {
				return true
			}
		}
		return false
	}
	got, want := strings.ToLower(r.fields[t.field]), strings.ToLower(t.value)
	if t.field == "type" {
		// Resource types match whatever their spelling: ssh_cert, sshCert.
		got, want = normField(got), normField(want)
	}
	if wildcardFields[t.field] {
		return glob(want, got)
	}
	return got == want
}

// glob matches s against pattern, where * stands for any run of bytes.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		k := strings.Index(s, p)
		if k < 0 {
			return false
		}
		s = s[k+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
