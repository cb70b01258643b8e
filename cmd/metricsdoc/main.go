// Command metricsdoc writes the metric reference, docs/metrics.md, from the
// prometheus exporter's metric table, so the reference is generated, never
// hand-kept:
//
//	go run ./cmd/metricsdoc -o docs/metrics.md
//
// (go generate ./internal/exporter/promexp runs it.) Without -o it
// writes to standard output.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "metricsdoc:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("metricsdoc", flag.ContinueOnError)
	out := fs.String("o", "", "file to write; standard output when empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := promexp.WriteMarkdown(&buf); err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}
