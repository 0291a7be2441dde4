package oncall

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-03-06T17:00:00Z", "2026-03-06T18:00:00+01:00", "2026-03-06T12:00:00-05:00", "2026-03-06T17:00:00.000Z"} {
		got, err := parseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v, want %v in UTC", s, got, err, want)
		}
	}
	for _, s := range []string{"", "2026-03-06 17:00:00", "2026-03-06T17:00:00", "null", "2026-03-06T17:00:00+25:00",
		"9999-12-31T23:01:00-23:59", "0000-01-01T00:00:00+23:59"} {
		if got, err := parseTime(s); err == nil {
			t.Errorf("parseTime(%q) = %v, want an error", s, got)
		}
	}
}

// FuzzParseTime checks that no input panics and that what parses keeps its
// instant when written back.
func FuzzParseTime(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Errorf("parseTime(%q) location = %v, want UTC", s, got.Location())
		}
		again, err := parseTime(got.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(got) {
			t.Errorf("parseTime(%q) = %v, written back parses as %v, %v", s, got, again, err)
		}
	})
}
