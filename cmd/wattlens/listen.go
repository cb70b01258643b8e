package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/wattlens/wattlens/internal/exporter/promexp"
)

// listen opens the --web.listen-address sockets of command before anything
// else starts (the sensor, its start-up log): a taken port is one line that
// names the command, the address and the flag that changes it, and exits
// 2. The caller serves the listeners (promexp.ServeOn), which closes them.
func listen(command string, flags *web.FlagConfig) ([]net.Listener, error) {
	ls, err := promexp.Listen(flags)
	var le *promexp.ListenError
	if errors.As(err, &le) {
		return nil, usageError{fmt.Errorf("%s: %w", command, err)}
	}
	return ls, err
}

func closeListeners(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}
