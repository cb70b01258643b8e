package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
)

// setupRun is being written; see the issue for this command.
func setupRun(cmd *kingpin.CmdClause) action {
	return func(ctx context.Context, e *env) error { return errors.New("run: not built yet") }
}
