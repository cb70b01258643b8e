package otlp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestExportersDocUpToDate fails when the OTLP metric table in
// docs/exporters.md is not what Metrics() says; the fix is to paste the
// output of WriteMarkdown there (go test -run TestExportersDocUpToDate -v
// prints it).
func TestExportersDocUpToDate(t *testing.T) {
	var want bytes.Buffer
	if err := WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "exporters.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, want.Bytes()) {
		t.Errorf("docs/exporters.md lacks the OTLP metric table; it should hold:\n%s", want.String())
	}
}
