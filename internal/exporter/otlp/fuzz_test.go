package otlp

import (
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzParseHeaders: whatever OTEL_EXPORTER_OTLP_HEADERS holds, parsing
// never panics, and what it accepts can be sent: every key is a header
// name and every value a header value (no CR, LF or other control
// character), so no export can fail for good on a header, nor a header
// be injected. An error never carries a control character into a log.
func FuzzParseHeaders(f *testing.F) {
	for _, seed := range []string{
		"", "a=1", "a=1,b=two%20words, c = 3", "bad key=v,ok=1", "junk,x=1",
		"a=1%0d%0aInjected: yes", "a=%zz", "=v", "a==b", ",,,", "k=v%2Cw",
		"authorization=Basic%20dXNlcjpwYXNz", "a=\x00", "\r\n=1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, env string) {
		got, err := parseHeaders(env, "OTEL_EXPORTER_OTLP_HEADERS")
		if err != nil {
			if got != nil {
				t.Errorf("error %v with headers %v", err, got)
			}
			if strings.ContainsAny(err.Error(), "\r\n\x00") {
				t.Errorf("error %q passes control characters on", err)
			}
			return
		}
		for k, v := range got {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Errorf("key %q accepted", k)
			}
			if !httpguts.ValidHeaderFieldValue(v) {
				t.Errorf("value %q of %q accepted", v, k)
			}
		}
		// What it accepts, given back as a flag, is accepted too.
		if _, err := mergeHeaders("", "", got); err != nil {
			t.Errorf("headers %v from the variable refused as flags: %v", got, err)
		}
	})
}
