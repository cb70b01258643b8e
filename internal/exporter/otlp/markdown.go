package otlp

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the table of the metrics the exporter sends, from
// Metrics(): docs/exporters.md holds it, and a test keeps the two equal.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| metric | kind | unit | attributes | meaning |\n|---|---|---|---|---|\n")
	for _, m := range Metrics() {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", m.Name, m.Kind, m.Unit, codeList(m.Attributes), m.Help)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// codeList puts the attribute names of a comma-separated list in code
// spans, and leaves prose ("as hw.energy") alone.
func codeList(s string) string {
	if strings.HasPrefix(s, "as ") {
		return "as `" + strings.TrimPrefix(s, "as ") + "`"
	}
	parts := strings.Split(s, ", ")
	for i, p := range parts {
		if strings.ContainsAny(p, " ;") {
			continue
		}
		parts[i] = "`" + p + "`"
	}
	return strings.Join(parts, ", ")
}
