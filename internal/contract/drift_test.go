package contract_test

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oncall-access/oncall-access/internal/config"
	"github.com/oncall-access/oncall-access/internal/report"
)

// Ensure action.yml and config.Inputs list the same inputs, in the same
// order, with the same defaults, and that no input is required (a missing
// secret is reported by the configuration, naming its variable too).
func TestActionInputsMatchConfig(t *testing.T) {
	meta := loadAction(t)
	var action, cfg []string
	for _, in := range meta.Inputs {
		action = append(action, in.Name)
		if in.Required {
			t.Errorf("action.yml input %s is required: the runner would refuse the step before the job can explain", in.Name)
		}
	}
	for _, in := range config.Inputs {
		cfg = append(cfg, in.Name)
	}
	if !slices.Equal(action, cfg) {
		t.Fatalf("action.yml inputs = %q,\nconfig.Inputs = %q", action, cfg)
	}
	for i, in := range meta.Inputs {
		if got, want := in.Default, config.Inputs[i].Default; got != want {
			t.Errorf("input %s: action.yml default %q, config default %q", in.Name, got, want)
		}
		if config.Inputs[i].Env != "" && !strings.Contains(in.Description, config.Inputs[i].Env) {
			t.Errorf("input %s: action.yml does not say it defaults to %s", in.Name, config.Inputs[i].Env)
		}
	}
}

// Ensure the configuration reads exactly the INPUT_ variables of
// action.yml, named as the runner names them: what config.Load asks of
// the environment is recorded, not what its table says.
func TestConfigReadsActionInputs(t *testing.T) {
	meta := loadAction(t)
	var mu sync.Mutex
	read := map[string]bool{}
	getenv := func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(k, "INPUT_") {
			read[k] = true
		}
		return ""
	}
	// Errors are expected: no credentials are given.
	_, _ = config.Load(nil, getenv, io.Discard)

	want := map[string]bool{}
	typos := map[string]bool{} // looked at only to refuse them
	for _, in := range meta.Inputs {
		want["INPUT_"+strings.ToUpper(in.Name)] = true
		typos["INPUT_"+strings.ToUpper(strings.ReplaceAll(in.Name, "-", "_"))] = true
	}
	for k := range read {
		if !want[k] && !typos[k] {
			t.Errorf("config reads %s, which action.yml does not declare", k)
		}
	}
	for k := range want {
		if !read[k] {
			t.Errorf("action.yml declares %s, which config never reads", k)
		}
	}
}

// Ensure action.yml declares exactly the outputs the job writes.
func TestActionOutputsMatchReport(t *testing.T) {
	meta := loadAction(t)
	var declared []string
	for _, o := range meta.Outputs {
		declared = append(declared, o.Name)
	}
	written := slices.Sorted(maps.Keys(report.Outputs(report.Summary{})))
	if slices.Sort(declared); !slices.Equal(declared, written) {
		t.Errorf("action.yml outputs = %q, the job writes %q", declared, written)
	}
}

// Ensure the README's input and output tables are the ones action.yml
// gives. Run with -update to rewrite them.
func TestREADMETables(t *testing.T) {
	meta := loadAction(t)
	path := filepath.Join(root, "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, block := range []struct{ name, table string }{
		{"inputs", inputsTable(meta)},
		{"outputs", outputsTable(meta)},
	} {
		start, end := "<!-- "+block.name+" table: generated from action.yml by internal/contract, go test -update -->\n", "<!-- end of "+block.name+" table -->"
		i, j := strings.Index(readme, start), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Errorf("README.md has no %s table between %q and %q", block.name, strings.TrimSpace(start), end)
			continue
		}
		got := readme[i+len(start) : j]
		if got == block.table {
			continue
		}
		if *update {
			readme = readme[:i+len(start)] + block.table + readme[j:]
			continue
		}
		t.Errorf("README.md %s table differs from action.yml; run go test ./internal/contract -update\ngot:\n%s\nwant:\n%s", block.name, got, block.table)
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func inputsTable(meta actionMeta) string {
	var b strings.Builder
	b.WriteString("| input | default | description |\n| --- | --- | --- |\n")
	for _, in := range meta.Inputs {
		def := ""
		if in.Default != "" {
			def = "`" + in.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", in.Name, def, cell(in.Description))
	}
	return b.String()
}

func outputsTable(meta actionMeta) string {
	var b strings.Builder
	b.WriteString("| output | description |\n| --- | --- |\n")
	for _, o := range meta.Outputs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", o.Name, cell(o.Description))
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "|", `\|`) }
