package otlp

import (
	"fmt"
	"maps"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parseHeaders parses the variables' headers: key=value pairs separated
// by commas, values URL-encoded, as the OTLP exporter specification
// says. An empty pair is skipped; a pair with no "=", a key that is not
// an HTTP header name, a value that does not decode or holds a control
// character (CR, LF, …) is an error that names the variable and the key.
func parseHeaders(env, variable string) (map[string]string, error) {
	out := map[string]string{}
	for pair := range strings.SplitSeq(env, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not KEY=VALUE", variable, printable(pair))
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%s: header %s: the value is not URL-encoded: %w", variable, printable(k), err)
		}
		val = strings.TrimSpace(val)
		if err := checkHeader(k, val); err != nil {
			return nil, fmt.Errorf("%s: %w", variable, err)
		}
		out[k] = val
	}
	return out, nil
}

// checkHeader says whether k and v can be sent as an HTTP header (and as
// gRPC metadata): k a token, v without control characters.
func checkHeader(k, v string) error {
	if k == "" {
		return fmt.Errorf("header with an empty name (value %s)", printable(v))
	}
	if !httpguts.ValidHeaderFieldName(k) {
		return fmt.Errorf("header %s: the name holds characters a header name cannot (spaces, separators, control characters)", printable(k))
	}
	if !httpguts.ValidHeaderFieldValue(v) {
		return fmt.Errorf("header %s: the value holds control characters (CR, LF, …)", printable(k))
	}
	return nil
}

// printable quotes s for a message, its control characters escaped so
// that none reaches a terminal or log.
func printable(s string) string {
	return strconv.Quote(s)
}

// mergeHeaders checks the variables' headers (env, read from variable)
// and the flags' and lays the flags' on top. A bad header anywhere is an
// error that names it: a header the SDK would drop or that would make
// every export fail is refused at start. nil when there are none.
func mergeHeaders(env, variable string, flags map[string]string) (map[string]string, error) {
	out, err := parseHeaders(env, variable)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkHeader(k, flags[k]); err != nil {
			return nil, fmt.Errorf("--otlp.header: %w", err)
		}
	}
	maps.Copy(out, flags)
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
