package report

import (
	"strings"

	"github.com/oncall-access/oncall-access/internal/config"
)

// BadConfig is the summary of a run that its configuration stopped before
// it asked anything of either service: one line per input to fix.
func BadConfig(ps config.Problems) string {
	var b strings.Builder
	b.WriteString("## On-call access\n\n> [!CAUTION]\n> **Bad configuration, nothing was changed.** Fix these inputs:\n>\n")
	for _, p := range ps {
		b.WriteString("> - `" + escape(p.Input, maxCell) + "`: " + escape(p.Msg, maxText) + "\n")
	}
	return b.String()
}
