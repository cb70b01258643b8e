package main

import (
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/alecthomas/kingpin/v2"
)

// usageTemplate is kingpin's default template, reordered: a command's
// help shows its own flags first, in full; then the global flags, grouped
// (measuring, paths, VM, logging, Redfish, help), one line each with the
// first sentence of their help, as `wattlens --help` shows them in full.
// Without it, `wattlens stdout --help` opened with 40 lines of global
// flags (the seven --redfish.* ones over 17) before the command's own.
const usageTemplate = `{{define "FormatCommand" -}}
{{if .FlagSummary}} {{.FlagSummary}}{{end -}}
{{range .Args}}{{if not .Hidden}} {{if not .Required}}[{{end}}{{if .PlaceHolder}}{{.PlaceHolder}}{{else}}<{{.Name}}>{{end}}{{if .Value|IsCumulative}}...{{end}}{{if not .Required}}]{{end}}{{end}}{{end -}}
{{end -}}

{{define "FormatCommands" -}}
{{range .FlattenedCommands -}}
{{if not .Hidden -}}
  {{.FullCommand}}{{if .Default}}*{{end}}{{template "FormatCommand" .}}
{{.Help|Wrap 4}}
{{end -}}
{{end -}}
{{end -}}

{{define "FormatUsage" -}}
{{template "FormatCommand" .}}{{if .Commands}} <command> [<args> ...]{{end}}
{{if .Help}}
{{.Help|Wrap 0 -}}
{{end -}}

{{end -}}

{{if .Context.SelectedCommand -}}
usage: {{.App.Name}} [<global flags>] {{.Context.SelectedCommand}}{{template "FormatUsage" .Context.SelectedCommand}}
{{if .Context.SelectedCommand.Flags -}}
Flags of {{.Context.SelectedCommand.FullCommand}}:
{{.Context.SelectedCommand.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{end -}}
{{if .Context.Args -}}
Args:
{{.Context.Args|ArgsToTwoColumns|FormatTwoColumns}}
{{end -}}
Global flags (wattlens --help explains each in full):
{{range GlobalFlagGroups .App.Flags -}}
{{"  "}}{{.Title}}:
{{OneLinePerFlag (FlagsToTwoColumns .Flags) $.Width}}
{{- end -}}
{{else -}}
usage: {{.App.Name}}{{template "FormatUsage" .App}}
Global flags:
{{range GlobalFlagGroups .App.Flags -}}
{{"  "}}{{.Title}}:
{{FormatTwoColumnsWithIndent (FlagsToTwoColumns .Flags) 4 2}}
{{- end}}
{{if .App.Commands -}}
Commands:
{{template "FormatCommands" .App}}
{{end -}}
{{end -}}
`

// flagGroup is a heading of the global flags and the flags under it.
type flagGroup struct {
	Title string
	Flags []*kingpin.FlagModel
}

// globalGroups are the headings of the global flags, in the order help
// shows them, each with the prefixes (the part of a flag's name before its
// first dot, or the whole name) of its flags. A flag whose prefix is in
// none goes under the first.
var globalGroups = []struct {
	title    string
	prefixes []string
}{
	{"Measuring", nil},
	{"Paths of the host's file systems", []string{"path"}},
	{"Inside a virtual machine", []string{"vm"}},
	{"Logging", []string{"log"}},
	{"Redfish sensor (-s redfish: a BMC's wall power)", []string{"redfish"}},
	{"Help", []string{"help", "help-long", "help-man", "version"}},
}

// globalFlagGroups sorts the visible flags into globalGroups, keeping
// their declared order within a group and leaving out empty groups.
func globalFlagGroups(flags []*kingpin.FlagModel) []flagGroup {
	groups := make([]flagGroup, len(globalGroups))
	for i, g := range globalGroups {
		groups[i].Title = g.title
	}
	for _, f := range flags {
		if f.Hidden {
			continue
		}
		prefix, _, _ := strings.Cut(f.Name, ".")
		at := 0
		for i, g := range globalGroups {
			for _, p := range g.prefixes {
				if p == prefix {
					at = i
				}
			}
		}
		groups[at].Flags = append(groups[at].Flags, f)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g.Flags) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// oneLinePerFlag renders kingpin's two-column flag rows with one line per
// flag, at most width runes: the flag, then the first sentence of its
// help, cut with … where it does not fit.
func oneLinePerFlag(rows [][2]string, width int) string {
	const indent, gap, minHelp = 4, 2, 24
	left := 0
	for _, r := range rows {
		left = max(left, utf8.RuneCountInString(r[0]))
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Repeat(" ", indent))
		b.WriteString(r[0])
		b.WriteString(strings.Repeat(" ", left-utf8.RuneCountInString(r[0])+gap))
		room := max(width-indent-left-gap, minHelp)
		b.WriteString(cut(firstSentence(r[1]), room))
		b.WriteByte('\n')
	}
	return b.String()
}

// firstSentence is s up to its first full stop that ends a sentence: one
// followed by a space and a capital letter, or the end ("e.g. https://…"
// does not end one).
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for i := 0; i < len(s); i++ {
		if s[i] != '.' || i+2 >= len(s) || s[i+1] != ' ' {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(s[i+2:]); unicode.IsUpper(r) {
			return s[:i+1]
		}
	}
	return s
}

// cut shortens s to at most n runes, ending with … when it cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ,;:") + "…"
}

// usageFuncs are the functions usageTemplate adds to kingpin's.
func usageFuncs() template.FuncMap {
	return template.FuncMap{
		"GlobalFlagGroups": globalFlagGroups,
		"OneLinePerFlag":   oneLinePerFlag,
	}
}
