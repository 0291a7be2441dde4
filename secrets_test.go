package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall-access/oncall-access/internal/sandbox"
)

var (
	secretsBinaryOnce sync.Once
	secretsBinaryPath string
	secretsBinaryErr  error
)

// secretsBinary builds the real binary once for the tests of this file.
func secretsBinary(t *testing.T) string {
	t.Helper()
	secretsBinaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oncall-access-bin-")
		if err != nil {
			secretsBinaryErr = err
			return
		}
		secretsBinaryPath = filepath.Join(dir, "oncall-access")
		out, err := exec.Command("go", "build", "-o", secretsBinaryPath, ".").CombinedOutput()
		if err != nil {
			secretsBinaryErr = err
			t.Logf("%s", out)
		}
	})
	if secretsBinaryErr != nil {
		t.Fatalf("build the binary: %v", secretsBinaryErr)
	}
	return secretsBinaryPath
}

// Recognisable fake secrets: none of them may show anywhere.
const (
	fakePagerDutyToken = "pd-FAKE-TOKEN-c0ffee0123456789"
	fakeAccessKey      = "sdm-FAKE-ACCESS-KEY-c0ffee01"
	fakeSecretRaw      = "FAKE-SECRET-c0ffee-0123456789ab"
)

var fakeSecret = base64.StdEncoding.EncodeToString([]byte(fakeSecretRaw))

// TestBinaryNeverShowsSecrets runs the binary through success and through
// every kind of failure that involves a secret, and looks for the secrets
// in stdout, stderr, the summary and the outputs.
func TestBinaryNeverShowsSecrets(t *testing.T) {
	bin := secretsBinary(t)
	sb, err := sandbox.Serve(sandbox.Sample(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	sb.PagerDuty.SetToken(fakePagerDutyToken)
	if err := sb.StrongDM.SetKeys(fakeAccessKey, fakeSecret); err != nil {
		t.Fatal(err)
	}
	info, err := sb.Info()
	if err != nil {
		t.Fatal(err)
	}
	otherSecret := base64.StdEncoding.EncodeToString([]byte("FAKE-WRONG-c0ffee-0123456789"))

	tests := []struct {
		name   string
		inputs map[string]string
		args   []string
		code   int
	}{
		{name: "success with debug logs", args: []string{"-debug"}, code: 0},
		{name: "dry run", args: []string{"-dry-run"}, code: 0},
		{name: "secret rejected by strongDM", inputs: map[string]string{"sdm-api-secret-key": otherSecret}, code: 2},
		{name: "secret in quotes", inputs: map[string]string{"sdm-api-secret-key": `"` + fakeSecret + `"`}, code: 2},
		{name: "token rejected by PagerDuty", inputs: map[string]string{"pagerduty-token": fakePagerDutyToken + "x"}, code: 2},
		{name: "PagerDuty unreachable", inputs: map[string]string{"pagerduty-api-url": "http://127.0.0.1:1", "timeout": "3s"}, code: 1},
		{name: "strongDM host without port", inputs: map[string]string{"sdm-api-host": "127.0.0.1"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			inputs := map[string]string{
				"pagerduty-token":               fakePagerDutyToken,
				"pagerduty-api-url":             info.PagerDutyURL,
				"pagerduty-schedules":           strings.Join(info.Schedules, "\n"),
				"pagerduty-escalation-policies": strings.Join(info.Policies, ","),
				"sdm-api-access-key":            fakeAccessKey,
				"sdm-api-secret-key":            fakeSecret,
				"sdm-api-host":                  info.SDMHost,
				"resources":                     strings.Join(info.Resources, ","),
			}
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			env := []string{
				"PATH=" + os.Getenv("PATH"),
				"SSL_CERT_FILE=" + info.CAFile,
				"GITHUB_ACTIONS=true",
				"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md"),
				"GITHUB_OUTPUT=" + filepath.Join(dir, "outputs"),
			}
			for k, v := range inputs {
				env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
			}
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			summary, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
			outputs, _ := os.ReadFile(filepath.Join(dir, "outputs"))
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tt.code, stderr.String())
			}
			// The runner consumes mask commands and never shows them: they
			// are the one place a secret may appear, and only as a mask.
			var shown []string
			masks := 0
			for _, line := range strings.Split(stdout.String(), "\n") {
				if strings.HasPrefix(line, "::add-mask::") {
					masks++
					continue
				}
				shown = append(shown, line)
			}
			if code != 2 || !strings.Contains(stderr.String(), "bad configuration") {
				if masks == 0 {
					t.Errorf("no ::add-mask:: command: the runner would not hide the secrets")
				}
			}
			texts := map[string]string{"stdout": strings.Join(shown, "\n"), "stderr": stderr.String(), "summary": string(summary), "outputs": string(outputs)}
			if stdout.Len()+stderr.Len() == 0 {
				t.Fatal("the binary printed nothing: nothing was checked")
			}
			for where, text := range texts {
				for _, secret := range []string{fakePagerDutyToken, fakeAccessKey, fakeSecret, fakeSecretRaw, otherSecret, "c0ffee"} {
					if strings.Contains(text, secret) {
						t.Errorf("%s shows a secret (%.12s…)", where, secret)
					}
				}
			}
		})
	}
}
