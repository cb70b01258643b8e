package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
)

func TestRun(t *testing.T) {
	var want bytes.Buffer
	if err := promexp.WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(nil, &stdout); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), want.Bytes()) {
		t.Error("standard output differs from the reference")
	}
	path := filepath.Join(t.TempDir(), "metrics.md")
	if err := run([]string{"-o", path}, &stdout); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("%s differs from the reference", path)
	}
	if err := run([]string{"-nope"}, &stdout); err == nil {
		t.Error("an unknown flag was accepted")
	}
}
