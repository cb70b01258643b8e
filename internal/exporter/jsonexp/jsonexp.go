// Package jsonexp is the json exporter: one JSON object per tick, one per
// line (NDJSON), to a file or standard output.
//
// Encoding is apart from transport: Record is the schema (docs/json.md),
// NewRecord builds it from a snapshot, Encode writes one line to any
// writer, and Exporter is the per-tick writer the json command uses. Every
// line goes out in a single Write, so a reader tailing the file never sees
// half a line from a write that succeeded; after a write that stopped
// part-way (a full disk), the next line starts with a newline, so only the
// torn line is lost.
package jsonexp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/wattlens/wattlens/internal/snapshot"
)

// Encode writes the record of s to w as one line, in one Write.
func Encode(w io.Writer, s *snapshot.Snapshot, opts Options) error {
	var buf bytes.Buffer
	if err := encodeLine(&buf, NewRecord(s, opts)); err != nil {
		return err
	}
	return write(w, buf.Bytes())
}

// encodeLine appends r and a newline to buf.
func encodeLine(buf *bytes.Buffer, r Record) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // command lines are full of < > &: keep them readable
	if err := enc.Encode(&r); err != nil {
		return fmt.Errorf("json: encode: %w", err)
	}
	return nil
}

func write(w io.Writer, line []byte) error {
	n, err := w.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("json: write: %w", err)
	}
	return nil
}

// Exporter writes one line per snapshot. It reuses its buffers from tick
// to tick; it is called from one goroutine (exporter.Exporter).
type Exporter struct {
	w    io.Writer
	opts Options
	rec  Record
	buf  bytes.Buffer
	enc  *json.Encoder
	// torn is true when the last write stopped part-way through a line.
	torn bool
}

// New returns an exporter writing to w.
func New(w io.Writer, opts Options) *Exporter {
	x := &Exporter{w: w, opts: opts}
	x.enc = json.NewEncoder(&x.buf)
	x.enc.SetEscapeHTML(false)
	return x
}

// Export implements exporter.Exporter. A write error is returned (the
// caller logs it and measuring goes on); the next call writes a whole line
// again.
func (x *Exporter) Export(_ context.Context, s *snapshot.Snapshot) error {
	x.buf.Reset()
	if x.torn {
		x.buf.WriteByte('\n') // end the fragment the failed write left
	}
	fillRecord(&x.rec, s, x.opts)
	if err := x.enc.Encode(&x.rec); err != nil {
		return fmt.Errorf("json: encode: %w", err)
	}
	line := x.buf.Bytes()
	n, err := x.w.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if n > 0 {
		x.torn = n < len(line)
	}
	if err != nil {
		return fmt.Errorf("json: write: %w", err)
	}
	return nil
}

// OpenFile opens path for the exporter: created if absent (mode 0644
// before umask), appended to if present. Each line is one write(2) on an
// O_APPEND descriptor, so concurrent appenders and readers see whole lines.
// The file is never reopened: rotate it with copytruncate.
func OpenFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return f, nil
}
