package strongdmtest

import (
	"fmt"
	"testing"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	known := fieldSet("id", "name", "email", "type", "tag", "resourceid")
	tests := []struct {
		name, in string
		want     string // fmt of the terms; empty means an error
	}{
		{"empty", "", "[]"},
		{"bare", "name:prod", "[{name  prod true}]"},
		{"quoted with space", `name:"prod db"`, "[{name  prod db true}]"},
		{"json escapes", `name:"a\"b\u0026c"`, `[{name  a"b&c true}]`},
		{"comma separated", `type:user,email:"bob@example.com"`, "[{type  user true} {email  bob@example.com true}]"},
		{"space separated", "id:a  id:b", "[{id  a true} {id  b true}]"},
		{"underscore spelling", "resource_id:rs-1", "[{resourceid  rs-1 true}]"},
		{"upper case field", "NAME:x", "[{name  x true}]"},
		{"tag quoted", `tag:"oncall"="true"`, "[{tag oncall true true}]"},
		{"tag bare", "tag:env=prod", "[{tag env prod true}]"},
		{"tag key only", `tag:"env"`, "[{tag env  false}]"},
		{"unknown field", "hostname:x", ""},
		{"no colon", "prod", ""},
		{"empty value", "name:", ""},
		{"unterminated quote", `name:"prod`, ""},
		{"text after quote", `name:"a"b`, ""},
		{"bad escape", `name:"\x"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFilter(tt.in, known)
			if tt.want == "" {
				if err == nil {
					t.Errorf("parseFilter(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Errorf("parseFilter(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*@example.com", "alice@example.com", true},
		{"*@example.com", "alice@example.org", false},
		{"*admin*", "the-admin-box", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
		{"*", "", true},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// Ensure every oneof member can be named, in any spelling, unambiguously.
func TestResourceField(t *testing.T) {
	t.Parallel()
	seen := make(map[string]string)
	fields := resourceOneof.Fields()
	for i := range fields.Len() {
		name := string(fields.Get(i).Name())
		if other, ok := seen[normField(name)]; ok {
			t.Errorf("types %s and %s normalise alike", name, other)
		}
		seen[normField(name)] = name
		if fd := resourceField(name); fd == nil || string(fd.Name()) != name {
			t.Errorf("resourceField(%q) = %v", name, fd)
		}
	}
	if fields.Len() != 118 {
		t.Errorf("oneof has %d members, want 118", fields.Len())
	}
	for in, want := range map[string]string{"SSHCert": "ssh_cert", "Postgres": "postgres", "amazonEKS": "amazon_eks"} {
		if fd := resourceField(in); fd == nil || string(fd.Name()) != want {
			t.Errorf("resourceField(%q) = %v, want %s", in, fd, want)
		}
	}
	if fd := resourceField("nosuchdb"); fd != nil {
		t.Errorf("resourceField(nosuchdb) = %v, want nil", fd)
	}
}
