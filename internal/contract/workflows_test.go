package contract_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// workflows are every workflow of the repository and the examples.
func workflows(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{".github/workflows/*.yml", "examples/*.yml"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found %d workflows, want ci, release, sync and an example: %q", len(files), files)
	}
	return files
}

// pinned is an action pinned to a full commit with its version alongside.
var pinned = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)

// Ensure every workflow sets permissions, pins each action of another
// repository by commit with a version comment, and refers to this
// repository's own action and workflow by a major tag or by path.
func TestWorkflowsPinActions(t *testing.T) {
	uses := regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(.+)$`)
	for _, file := range workflows(t) {
		name, _ := filepath.Rel(root, file)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var wf map[string]any
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, ok := wf["permissions"]; !ok {
			t.Errorf("%s has no top-level permissions", name)
		}
		for i, line := range strings.Split(string(b), "\n") {
			m := uses.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			ref := strings.Trim(strings.TrimSpace(m[1]), `"`)
			switch {
			case ref == "./":
			case strings.HasPrefix(ref, "oncall-access/oncall-access"):
				if !regexp.MustCompile(`@v\d+$`).MatchString(ref) {
					t.Errorf("%s:%d: %s: refer to this project by its major tag", name, i+1, ref)
				}
			case !pinned.MatchString(ref):
				t.Errorf("%s:%d: %s is not pinned as owner/repo@<commit> # vX.Y.Z", name, i+1, ref)
			}
		}
	}
}

// Ensure actionlint, pinned in tools/go.mod, finds nothing wrong with any
// workflow.
func TestActionlint(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to run actionlint with")
	}
	var args []string
	for _, f := range workflows(t) {
		rel, _ := filepath.Rel(root, f)
		args = append(args, rel)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "-modfile=tools/go.mod", "actionlint"}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}
}
