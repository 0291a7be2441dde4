package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall-access/oncall-access/internal/actionstest"
	"github.com/oncall-access/oncall-access/internal/sandbox"
)

// TestStandaloneEmulatorsTwice serves the emulators with the documented
// command, and runs the real binary against them twice the way the runner
// would: the first run creates grants, the second finds them all there.
func TestStandaloneEmulatorsTwice(t *testing.T) {
	bin := secretsBinary(t)
	emu := filepath.Join(t.TempDir(), "emulators")
	if out, err := exec.Command("go", "build", "-o", emu, "./cmd/emulators").CombinedOutput(); err != nil {
		t.Fatalf("build the emulators: %v\n%s", err, out)
	}
	cmd := exec.Command(emu)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupted, as a person would stop it, it removes its CA file.
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	// The JSON is printed whole before the command waits: read up to the
	// closing brace.
	var doc bytes.Buffer
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		doc.WriteString(sc.Text() + "\n")
		if sc.Text() == "}" {
			break
		}
	}
	var info sandbox.Info
	if err := json.Unmarshal(doc.Bytes(), &info); err != nil {
		t.Fatalf("emulators printed %q: %v", doc.String(), err)
	}

	run := func(name string) (map[string]string, string) {
		dir := t.TempDir()
		c := exec.Command(bin)
		c.Env = []string{
			"SSL_CERT_FILE=" + info.CAFile,
			"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"),
			"GITHUB_OUTPUT=" + filepath.Join(dir, "outputs"),
			"INPUT_PAGERDUTY-TOKEN=" + info.PagerDutyToken,
			"INPUT_PAGERDUTY-API-URL=" + info.PagerDutyURL,
			"INPUT_PAGERDUTY-SCHEDULES=" + strings.Join(info.Schedules, ","),
			"INPUT_PAGERDUTY-ESCALATION-POLICIES=" + strings.Join(info.Policies, ","),
			"INPUT_SDM-API-ACCESS-KEY=" + info.SDMAccessKey,
			"INPUT_SDM-API-SECRET-KEY=" + info.SDMSecretKey,
			"INPUT_SDM-API-HOST=" + info.SDMHost,
			"INPUT_RESOURCES=" + strings.Join(info.Resources, "\n"),
			"INPUT_WINDOW=",
		}
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "outputs"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		outs, err := actionstest.ParseOutputs(string(raw))
		if err != nil {
			t.Fatalf("%s: outputs file: %v\n%s", name, err, raw)
		}
		summary, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
		return outs, string(summary)
	}

	first, _ := run("first run")
	if first["created"] == "0" || first["failed"] != "0" {
		t.Errorf("first run: created %q, failed %q", first["created"], first["failed"])
	}
	second, summary := run("second run")
	if second["created"] != "0" || second["failed"] != "0" {
		t.Errorf("second run: created %q, failed %q, want 0 and 0\n%s", second["created"], second["failed"], summary)
	}
	if second["existing"] == "0" || !strings.Contains(summary, "already granted") {
		t.Errorf("second run: existing %q, want the first run's grants reported as already granted\n%s", second["existing"], summary)
	}
	var plan []map[string]string
	if err := json.Unmarshal([]byte(second["plan"]), &plan); err != nil || len(plan) == 0 {
		t.Errorf("plan output %q: %v", second["plan"], err)
	}
}
