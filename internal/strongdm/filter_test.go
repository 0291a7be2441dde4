package strongdm

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuoteFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tmpl    string
		args    []any
		want    string
		wantErr bool
	}{
		{"email", "email:?", []any{"Alice@Example.com"}, `email:"Alice@Example.com"`, false},
		{"two terms", "type:user,email:?", []any{"bob@example.com"}, `type:user,email:"bob@example.com"`, false},
		{"tag", "tag:?=?", []any{"oncall", "true"}, `tag:"oncall"="true"`, false},
		{"space and quote", "name:?", []any{`prod "db"`}, `name:"prod \"db\""`, false},
		{"html escaped like the sdk", "name:?", []any{"a<b>&c"}, `name:"a\u003cb\u003e\u0026c"`, false},
		{"numbers via Sprint", "id:? id:?", []any{5, true}, `id:"5" id:"true"`, false},
		{"invalid utf-8 replaced", "name:?", []any{"a\xffb"}, `name:"a\ufffdb"`, false},
		{"no placeholders", "type:user", nil, "type:user", false},
		{"too few args", "id:? id:?", []any{"a"}, "", true},
		{"too many args", "id:?", []any{"a", "b"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := QuoteFilter(tt.tmpl, tt.args...)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("QuoteFilter(%q, %v) = %q, %v, want %q (error %v)", tt.tmpl, tt.args, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzQuoteFilter checks that the argument comes back intact from the JSON
// quoting, between the template's text.
func FuzzQuoteFilter(f *testing.F) {
	f.Add("email:", "", "alice@example.com")
	f.Add("tag:", "=\"x\"", `a"b\c<&>`)
	f.Fuzz(func(t *testing.T, before, after, arg string) {
		if strings.Contains(before+after, "?") {
			if _, err := QuoteFilter(before+"?"+after, arg); err == nil {
				t.Errorf("QuoteFilter(%q) with a ? in the text did not fail", before+"?"+after)
			}
			return
		}
		got, err := QuoteFilter(before+"?"+after, arg)
		if err != nil {
			t.Fatalf("QuoteFilter(%q, %q): %v", before+"?"+after, arg, err)
		}
		if !strings.HasPrefix(got, before) || !strings.HasSuffix(got, after) || len(got) < len(before)+len(after)+2 {
			t.Fatalf("QuoteFilter(%q, %q) = %q, lost the template", before+"?"+after, arg, got)
		}
		var back string
		if err := json.Unmarshal([]byte(got[len(before):len(got)-len(after)]), &back); err != nil {
			t.Fatalf("QuoteFilter(%q, %q) = %q: argument is not a JSON string: %v", before+"?"+after, arg, got, err)
		}
		if utf8.ValidString(arg) && back != arg {
			t.Errorf("QuoteFilter(%q, %q) quoted the argument as %q", before+"?"+after, arg, back)
		}
	})
}
