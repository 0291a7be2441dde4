package contract_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/oncall-access/oncall-access/internal/actionstest"
)

// root is the repository root, seen from this package's folder.
const root = "../.."

// testVersion is stamped into the binary, as the Dockerfile stamps VERSION.
const testVersion = "contract-test"

var update = flag.Bool("update", false, "rewrite the README's input and output tables from action.yml")

// binary is the real command, built once, the way the Dockerfile builds it.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "oncall-access-contract-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "oncall-access")
	if err := buildLikeDockerfile(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildLikeDockerfile runs the Dockerfile's `go build`, with its
// environment and flags, for this machine's platform.
func buildLikeDockerfile(out string) error {
	env, args, err := dockerfileBuild()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append(append([]string{"build"}, args...), "-o", out, ".")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// dockerfileBuild reads the Dockerfile's `go build` command: the variables
// set before it (empty ones, such as GOARCH=$TARGETARCH outside BuildKit,
// are left out) and its flags, without -o and the package.
func dockerfileBuild() (env, args []string, err error) {
	ins, err := dockerfile()
	if err != nil {
		return nil, nil, err
	}
	for _, in := range ins {
		if in.cmd != "RUN" {
			continue
		}
		for part := range strings.SplitSeq(in.args, "&&") {
			words := shellWords(part)
			i := slices.Index(words, "go")
			if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
				continue
			}
			for _, w := range words[:i] {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					return nil, nil, fmt.Errorf("dockerfile: %q before go build is not NAME=value", w)
				}
				if v = expand(v); v != "" {
					env = append(env, k+"="+v)
				}
			}
			rest := words[i+2:]
			for j := 0; j < len(rest); j++ {
				switch {
				case rest[j] == "-o":
					j++
				case j == len(rest)-1 && !strings.HasPrefix(rest[j], "-"):
					// the package
				default:
					args = append(args, expand(rest[j]))
				}
			}
			return env, args, nil
		}
	}
	return nil, nil, errors.New("dockerfile: no RUN with go build")
}

// expand fills in the build arguments the way `docker build` would with
// VERSION set and no target platform given.
func expand(s string) string {
	return regexp.MustCompile(`\$\{?(\w+)\}?`).ReplaceAllStringFunc(s, func(v string) string {
		if strings.Trim(v, "${}") == "VERSION" {
			return testVersion
		}
		return ""
	})
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper-case: FROM, RUN, ...
	args string
	line int
}

func dockerfile() ([]instruction, error) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	var ins []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(t, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(t)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	return ins, nil
}

// shellWords splits s on blanks, keeping double- or single-quoted parts
// together (no escapes: the Dockerfile needs none).
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote, in = r, true
		case quote == 0 && (r == ' ' || r == '\t'):
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// actionInput is one input of action.yml.
type actionInput struct {
	Name        string
	Description string
	Default     string
	HasDefault  bool
	Required    bool
}

// actionMeta is what the tests read of action.yml, in its order.
type actionMeta struct {
	Inputs  []actionInput
	Outputs []struct{ Name, Description string }
	Runs    struct{ Using, Image string }
}

func loadAction(t *testing.T) actionMeta {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	var m actionMeta
	top := mapping(t, doc.Content[0])
	for _, kv := range pairs(t, top["inputs"]) {
		var in struct {
			Description string  `yaml:"description"`
			Default     *string `yaml:"default"`
			Required    bool    `yaml:"required"`
		}
		if err := kv[1].Decode(&in); err != nil {
			t.Fatalf("action.yml input %s: %v", kv[0].Value, err)
		}
		a := actionInput{Name: kv[0].Value, Description: in.Description, Required: in.Required}
		if in.Default != nil {
			a.Default, a.HasDefault = *in.Default, true
		}
		m.Inputs = append(m.Inputs, a)
	}
	for _, kv := range pairs(t, top["outputs"]) {
		var out struct {
			Description string `yaml:"description"`
		}
		if err := kv[1].Decode(&out); err != nil {
			t.Fatalf("action.yml output %s: %v", kv[0].Value, err)
		}
		m.Outputs = append(m.Outputs, struct{ Name, Description string }{kv[0].Value, out.Description})
	}
	if err := top["runs"].Decode(&m.Runs); err != nil {
		t.Fatalf("action.yml runs: %v", err)
	}
	return m
}

// pairs are a mapping node's keys and values, in order.
func pairs(t *testing.T, n *yaml.Node) [][2]*yaml.Node {
	t.Helper()
	if n == nil || n.Kind != yaml.MappingNode {
		t.Fatalf("want a YAML mapping, got %v", n)
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

func mapping(t *testing.T, n *yaml.Node) map[string]*yaml.Node {
	t.Helper()
	m := map[string]*yaml.Node{}
	for _, kv := range pairs(t, n) {
		m[kv[0].Value] = kv[1]
	}
	return m
}

// run is one run of the binary and what it left behind.
type run struct {
	code           int
	stdout, stderr string
	summary        string
	outputs        map[string]string
}

// runnerRun runs the binary the way the runner runs a container action:
// every input of action.yml as INPUT_<NAME> (upper-cased, hyphens kept)
// with its default when not given, empty when it has none; the runner's
// GITHUB_ variables and files; nothing else of this process's environment.
func runnerRun(t *testing.T, meta actionMeta, given map[string]string, event string, extra ...string) run {
	t.Helper()
	dir := t.TempDir()
	workspace := filepath.Join(dir, "workspace")
	home := filepath.Join(dir, "home")
	for _, d := range []string{workspace, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{}
	for _, name := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE", "GITHUB_EVENT_PATH"} {
		files[name] = filepath.Join(dir, strings.ToLower(name))
		if err := os.WriteFile(files[name], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(files["GITHUB_EVENT_PATH"], []byte(event), 0o644); err != nil {
		t.Fatal(err)
	}

	env := []string{
		"HOME=" + home,
		"CI=true",
		"GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE=" + workspace,
		"GITHUB_REPOSITORY=acme/infra",
		"GITHUB_EVENT_NAME=schedule",
		"GITHUB_RUN_ID=42",
		"RUNNER_OS=Linux",
		"RUNNER_TEMP=" + dir,
	}
	for name, path := range files {
		env = append(env, name+"="+path)
	}
	for _, in := range meta.Inputs {
		v, ok := given[in.Name]
		if !ok {
			v = in.Default
		}
		env = append(env, "INPUT_"+strings.ToUpper(in.Name)+"="+v)
	}
	for name := range given {
		if !slices.ContainsFunc(meta.Inputs, func(in actionInput) bool { return in.Name == name }) {
			t.Fatalf("test sets input %q, which action.yml does not declare", name)
		}
	}
	env = append(env, extra...)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir, cmd.Env = workspace, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := run{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", binary, err)
	}
	b, _ := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
	r.summary = string(b)
	b, _ = os.ReadFile(files["GITHUB_OUTPUT"])
	if r.outputs, err = actionstest.ParseOutputs(string(b)); err != nil {
		t.Fatalf("GITHUB_OUTPUT: %v\n%s", err, b)
	}
	return r
}
