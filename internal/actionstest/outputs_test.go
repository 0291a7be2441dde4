package actionstest

import "testing"

func TestParseOutputs(t *testing.T) {
	got, err := ParseOutputs("created=3\nplan<<EOF\n[1,\n2]\nEOF\n\nfailed=0\n")
	if err != nil {
		t.Fatal(err)
	}
	if got["created"] != "3" || got["plan"] != "[1,\n2]" || got["failed"] != "0" || len(got) != 3 {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"plan<<EOF\nno end\n", "no equals sign\n"} {
		if _, err := ParseOutputs(bad); err == nil {
			t.Errorf("ParseOutputs(%q) gave no error", bad)
		}
	}
}
