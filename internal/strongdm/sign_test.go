package strongdm

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// Ensure Sign reproduces the vectors of WIRE.md §2.
func TestSign(t *testing.T) {
	t.Parallel()
	secret, err := DecodeSecret("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	// Late in the day in New York is already the 2nd in UTC: the date is UTC.
	date := time.Date(2026, 1, 1, 20, 0, 0, 0, time.FixedZone("EST", -5*3600))
	tests := []struct {
		name, method, body, want string
	}{
		{"list", "AccountGrants.List", "0a02183212116163636f756e7469643a22612d31323322", "7pcl1/ztuqTXvVjt6ocuelU6UN24QvhxV8pWthEQL4g="},
		{"create", "AccountGrants.Create", "0a001217120472732d311a03612d312a0608c0e6deca0632027b7d", "b56BCxurghM+ErkE8x4mu9jHRl0zZWj6ZslOpTKrR8s="},
		{"delete", "AccountGrants.Delete", "0a00120461672d31", "r0Si3FuI/r70RYuVoLb7sMq2HtUfJizqdXqIWZe8rVY="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := hex.DecodeString(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got := Sign(secret, date, tt.method, body); got != tt.want {
				t.Errorf("Sign(%s, %s) = %s, want %s", tt.method, tt.body, got, tt.want)
			}
		})
	}
}

func TestDecodeSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     string // hex; empty means an error
	}{
		{"plain", "AAEC", "000102"},
		{"whitespace trimmed", " \tAAEC\n", "000102"},
		{"url alphabet rejected", "AA-_", ""},
		{"missing padding rejected", "AAE", ""},
		{"empty", "  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("DecodeSecret(%q) = %x, want an error", tt.in, got)
				}
				if trimmed := strings.TrimSpace(tt.in); trimmed != "" && strings.Contains(err.Error(), trimmed) {
					t.Errorf("DecodeSecret(%q) error %q contains the secret", tt.in, err)
				}
				return
			}
			if err != nil || hex.EncodeToString(got) != tt.want {
				t.Errorf("DecodeSecret(%q) = %x, %v, want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		rand float64
		want time.Duration
	}{
		{"first retry, mid jitter", 1, 0.5, time.Second},
		{"second doubles", 2, 0.5, 2 * time.Second},
		{"low jitter", 3, 0, 3200 * time.Millisecond},
		{"high jitter", 3, 1, 4800 * time.Millisecond},
		{"capped", 9, 0.5, 30 * time.Second},
		{"no overflow far out", 200, 0.5, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{rand: func() float64 { return tt.rand }}
			if got := c.backoff(tt.n); got != tt.want {
				t.Errorf("backoff(%d) with rand %v = %v, want %v", tt.n, tt.rand, got, tt.want)
			}
		})
	}
}
