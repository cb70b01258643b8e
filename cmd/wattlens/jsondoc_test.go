package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wattlens/wattlens/internal/exporter/jsonexp"
)

// The JSON schema's reference is docs/json.md: the tests below hold it to
// the binary, so that a field added to jsonexp.Record without its line in
// the docs (the unattributed consumer and the attribution object were) fails.

const jsonDoc = "../../docs/json.md"

// docSections reads the field tables of docs/json.md: under each "### "
// heading ("Top level", "`host`", "`consumers[]`"…), the names in
// backquotes in the first cell of each table row. The result maps a
// section ("" for the top level, "host", "consumers[]") to its fields.
func docSections(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(jsonDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	name := regexp.MustCompile("`([a-z_]+)`")
	out := map[string][]string{}
	section, inFields := "", false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inFields = strings.TrimSpace(line[3:]) == "Fields"
		case inFields && strings.HasPrefix(line, "### "):
			h := strings.TrimSpace(line[4:])
			if h == "Top level" {
				section = ""
			} else {
				section = strings.Trim(h, "`")
			}
			out[section] = nil
		case inFields && strings.HasPrefix(line, "| `"):
			first := strings.Split(line, "|")[1]
			for _, m := range name.FindAllStringSubmatch(first, -1) {
				out[section] = append(out[section], m[1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// schemaSections walks jsonexp.Record's JSON tags: every key the encoder
// can write, by section, with the omitempty ones.
func schemaSections() map[string][]string {
	out := map[string][]string{}
	marshaler := reflect.TypeFor[json.Marshaler]()
	var walk func(section string, t reflect.Type)
	walk = func(section string, t reflect.Type) {
		section = shared(section)
		out[section] = []string{}
		for f := range t.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || key == "-" {
				continue
			}
			if key == "" {
				key = f.Name
			}
			out[section] = append(out[section], key)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			sub := key
			if section != "" {
				sub = section + "." + key
			}
			switch {
			case ft.Implements(marshaler):
			case ft.Kind() == reflect.Struct:
				walk(sub, ft)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(sub+"[]", ft.Elem())
			}
		}
	}
	walk("", reflect.TypeFor[jsonexp.Record]())
	return out
}

// shared is the section under which a key path is documented: every
// object's `resources` (host, idle, consumers, workloads) shares one
// table, and each resource's figures another ("resources.*").
func shared(section string) string {
	i := strings.Index(section, "resources")
	if i < 0 || (i > 0 && section[i-1] != '.') {
		return section
	}
	if rest := section[i+len("resources"):]; rest != "" {
		return "resources.*"
	}
	return "resources"
}

func sortedSet(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}

// TestJSONDocCoversTheSchema: docs/json.md has a table per object of the
// schema, and each lists exactly the keys jsonexp.Record can write.
func TestJSONDocCoversTheSchema(t *testing.T) {
	doc, schema := docSections(t), schemaSections()
	for section, keys := range schema {
		documented, ok := doc[section]
		if !ok {
			t.Errorf("docs/json.md has no \"### `%s`\" table under ## Fields for the keys %v", section, keys)
			continue
		}
		want, got := sortedSet(keys), sortedSet(documented)
		for _, k := range want {
			if !slices.Contains(got, k) {
				t.Errorf("%s: the binary writes %q; docs/json.md does not document it", orTop(section), k)
			}
		}
		for _, k := range got {
			if !slices.Contains(want, k) {
				t.Errorf("%s: docs/json.md documents %q, which the binary never writes", orTop(section), k)
			}
		}
	}
	for section := range doc {
		if _, ok := schema[section]; !ok {
			t.Errorf("docs/json.md documents a section %q the binary does not write", section)
		}
	}
}

func orTop(section string) string {
	if section == "" {
		return "top level"
	}
	return section
}

// keysOf collects, by section, the keys of a decoded JSON line.
func keysOf(v any, section string, out map[string][]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			out[shared(section)] = append(out[shared(section)], k)
			sub := k
			if section != "" {
				sub = section + "." + k
			}
			keysOf(val, sub, out)
		}
	case []any:
		for _, e := range x {
			keysOf(e, section+"[]", out)
		}
	}
}

// checkDocumented fails for every key of line that docs/json.md does not
// document in its section, and for consumer kinds it does not name.
func checkDocumented(t *testing.T, what string, line []byte, doc map[string][]string, kinds string) {
	t.Helper()
	var v any
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, line)
	}
	seen := map[string][]string{}
	keysOf(v, "", seen)
	for section, keys := range seen {
		for _, k := range sortedSet(keys) {
			if !slices.Contains(doc[section], k) {
				t.Errorf("%s writes %s.%s, which docs/json.md does not document", what, orTop(section), k)
			}
		}
	}
	var r struct {
		Consumers []struct {
			Kind string `json:"kind"`
		} `json:"consumers"`
	}
	_ = json.Unmarshal(line, &r)
	for _, c := range r.Consumers {
		if !strings.Contains(kinds, "`"+c.Kind+"`") {
			t.Errorf("%s writes a consumer of kind %q; docs/json.md's kind row does not name it", what, c.Kind)
		}
	}
}

// docKindRow is the meaning cell of the consumers[] table's kind row.
func docKindRow(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(jsonDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "### `consumers[]`")
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "| `kind` |") {
			return line
		}
	}
	t.Fatal("docs/json.md: no kind row in the consumers[] table")
	return ""
}

// TestJSONDocMatchesRealOutput: every key and consumer kind that a real
// `wattlens json` run writes (with --process-regex, for matched) is in
// docs/json.md, and so is every key of the page's example line.
func TestJSONDocMatchesRealOutput(t *testing.T) {
	doc, kinds := docSections(t), docKindRow(t)
	path := filepath.Join(t.TempDir(), "power.ndjson")
	code, _, stderr := runWattlens(t, "--path.sysfs", fakeRAPL(t), "-s", "powercap_rapl",
		"json", "--timeout", "0.7", "--step", "0.2", "--process-regex", ".", "--max-top-consumers", "2", "--file", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		t.Fatalf("%d lines in 0.7 s at a 0.2 s step", len(lines))
	}
	for _, line := range lines {
		checkDocumented(t, "wattlens json", []byte(line), doc, kinds)
	}

	// The example line of the page: a fenced json block whose first line
	// opens an object.
	md, err := os.ReadFile(jsonDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, ex, ok := strings.Cut(string(md), "## Example")
	ex, _, _ = strings.Cut(ex, "\n## ")
	_, ex, ok2 := strings.Cut(ex, "```json\n")
	ex, _, ok3 := strings.Cut(ex, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/json.md: no ```json block under ## Example")
	}
	checkDocumented(t, "docs/json.md's example", []byte(ex), doc, kinds)
}
