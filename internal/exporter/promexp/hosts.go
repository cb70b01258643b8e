package promexp

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// HostCheck guards the live page and its API against DNS rebinding: a
// page on another origin whose name the attacker points at this host's
// address reaches the agent with its own name in Host. A request is
// served when its Host is an IP address (a page of that origin is the
// agent's own), localhost or a name under .localhost, this host's name,
// a name the agent listens on, or a name the operator allows; else it
// gets 421 Misdirected Request.
type HostCheck struct {
	allowed map[string]bool
	any     bool
}

// NewHostCheck allows the names given (--web.allowed-hosts: host names,
// with or without a port; "*" allows any), the listen addresses' host
// names and hostname (os.Hostname's).
func NewHostCheck(allowed, listen []string, hostname string) *HostCheck {
	h := &HostCheck{allowed: map[string]bool{}}
	add := func(name string) {
		if name = normalHost(name); name != "" {
			h.allowed[name] = true
		}
	}
	for _, a := range allowed {
		if strings.TrimSpace(a) == "*" {
			h.any = true
		}
		add(a)
	}
	for _, l := range listen {
		add(l)
	}
	add(hostname)
	return h
}

// normalHost is a Host header's or address's name: without the port,
// brackets, trailing dot, in lower case.
func normalHost(hostport string) string {
	h := strings.TrimSpace(hostport)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// Allows says whether a request with this Host header is served.
func (h *HostCheck) Allows(host string) bool {
	if h.any {
		return true
	}
	name := normalHost(host)
	switch {
	case name == "":
		return true // HTTP/1.0 without Host: not a browser's
	case net.ParseIP(name) != nil:
		return true
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		return true
	}
	return h.allowed[name]
}

// Wrap serves through next the requests whose Host it allows, and the
// paths in exempt whatever their Host (the metrics path: a scraper
// reaches the agent by whatever name its configuration gives, so a check
// there would break scrapes; basic auth, --web.config.file, guards it).
func (h *HostCheck) Wrap(next http.Handler, exempt ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range exempt {
			if p != "" && r.URL.Path == p {
				next.ServeHTTP(w, r)
				return
			}
		}
		if !h.Allows(r.Host) {
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("host %q is not one this agent serves its page under; add it with --web.allowed-hosts", normalHost(r.Host)),
				http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}
