// Package actionstest reads what a GitHub Action step wrote for the runner,
// for tests that play the runner's part.
package actionstest

import (
	"fmt"
	"strings"
)

// ParseOutputs reads a GITHUB_OUTPUT file the way the runner does: lines
// "name=value", or "name<<DELIMITER", the value's lines, then "DELIMITER".
func ParseOutputs(s string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var value []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				value = append(value, lines[i])
			}
			if i == len(lines) {
				return nil, fmt.Errorf("output %q: no closing delimiter %q", name, delim)
			}
			out[name] = strings.Join(value, "\n")
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("line %d is neither name=value nor name<<delimiter: %q", i+1, line)
		}
		out[name] = value
	}
	return out, nil
}
