package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/wattlens/wattlens/internal/fdio"
)

// isFileFlag reports whether a flag names a file the agent reads: by the
// project's naming rule, a flag whose name ends in "-file"
// (--redfish.credentials-file, --otlp.ca-file, --push.password-file, …)
// or ".file" (exporter-toolkit's --web.config.file). Files written
// (--file, --output) and directories (--qemu.dir, --vm.path) do not
// follow it.
func isFileFlag(name string) bool {
	return strings.HasSuffix(name, "-file") || strings.HasSuffix(name, ".file")
}

// checkFileFlags opens every file that a flag of the command line names
// (the global flags and the selected command's) with fdio.Open, which
// never blocks and refuses anything but a regular file, and closes it: a
// FIFO, a device or a directory given as a file is refused before
// anything starts, with the flag's name, instead of hanging the reader
// that opens it later (exporter-toolkit opens --web.config.file itself,
// with a plain open). A file that is missing or unreadable is left to
// the reader, which says why in its own terms. "none" is the token file's
// word for no file.
func checkFileFlags(app *kingpin.Application, selected string) error {
	m := app.Model()
	flags := append([]*kingpin.FlagModel(nil), m.Flags...)
	for _, c := range m.FlattenedCommands() {
		if c.FullCommand == selected {
			flags = append(flags, c.Flags...)
		}
	}
	for _, f := range flags {
		if !isFileFlag(f.Name) || f.Value == nil {
			continue
		}
		path := f.Value.String()
		if path == "" || path == "none" {
			continue
		}
		if err := fdio.Check(path); errors.Is(err, fdio.ErrNotRegular) {
			return fmt.Errorf("--%s %s: not a regular file (a FIFO, a device or a directory?): give a regular file", f.Name, path)
		}
	}
	return nil
}
