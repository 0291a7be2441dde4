package contract_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Ensure the Dockerfile keeps its promises: base images pinned by digest,
// no WORKDIR anywhere (the runner sets the working directory), no USER in
// the final stage (the runner's files are root's), an exec-form
// ENTRYPOINT, and a static build.
func TestDockerfile(t *testing.T) {
	ins, err := dockerfile()
	if err != nil {
		t.Fatal(err)
	}
	final := 0
	for i, in := range ins {
		switch in.cmd {
		case "FROM":
			final = i
			if !regexp.MustCompile(`^(--platform=\S+ )?\S+@sha256:[0-9a-f]{64}( AS \w+)?$`).MatchString(in.args) {
				t.Errorf("Dockerfile:%d: FROM %s is not pinned by digest", in.line, in.args)
			}
		case "WORKDIR":
			t.Errorf("Dockerfile:%d: WORKDIR: the runner mounts the workspace and sets the working directory", in.line)
		}
	}
	var entrypoint *instruction
	for _, in := range ins[final:] {
		switch in.cmd {
		case "USER":
			t.Errorf("Dockerfile:%d: USER in the final stage: the runner's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are root's", in.line)
		case "ENTRYPOINT":
			entrypoint = &in
		}
	}
	if entrypoint == nil {
		t.Fatal("the final stage has no ENTRYPOINT")
	}
	var argv []string
	if err := json.Unmarshal([]byte(entrypoint.args), &argv); err != nil || len(argv) == 0 {
		t.Errorf("Dockerfile:%d: ENTRYPOINT %s is not in exec form (a JSON array): the runner appends args to it", entrypoint.line, entrypoint.args)
	}

	env, args, err := dockerfileBuild()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(env, " "), "CGO_ENABLED=0") {
		t.Errorf("go build runs with %q, want CGO_ENABLED=0 for a static binary", env)
	}
	if !strings.Contains(strings.Join(args, " "), "-trimpath") {
		t.Errorf("go build flags %q lack -trimpath", args)
	}
}

// Ensure the binary built the Dockerfile's way is static (it must run on
// a distroless image with no C library) and runs with nothing in its
// environment.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q (%v)", libs, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-version")
	cmd.Env = []string{}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s -version with an empty environment: %v\n%s", binary, err, out.String())
	}
	if got, want := strings.TrimSpace(out.String()), "oncall-access "+testVersion; got != want {
		t.Errorf("-version printed %q, want %q (the Dockerfile's -X main.version)", got, want)
	}
}
