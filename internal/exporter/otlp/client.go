package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc/credentials"

	"github.com/wattlens/wattlens/internal/tlsfile"
)

// Protocols.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// ClientOptions say how to reach the collector. A field left at its zero
// value leaves the choice to the OTEL_EXPORTER_OTLP_* environment
// variables, which the SDK's exporters read (endpoint, headers, insecure,
// certificates, compression, timeout); a field that is set wins over them.
type ClientOptions struct {
	// Protocol is "grpc", "http/protobuf" or "http"; empty: from
	// OTEL_EXPORTER_OTLP_METRICS_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
	// else grpc.
	Protocol string
	// Endpoint is host:port, or a URL (http:// is plaintext, https://
	// TLS). Over HTTP a URL with no path gets /v1/metrics.
	Endpoint string
	// Insecure sends in plaintext (no TLS) to a host:port endpoint.
	Insecure bool
	// Headers are added to every export; they win over the variables'
	// headers of the same name, which are kept.
	Headers map[string]string
	// CAFile, CertFile and KeyFile are PEM files: the CAs to trust, and a
	// client certificate and key for mutual TLS.
	CAFile, CertFile, KeyFile string
	// Compression is "gzip" or "none"; empty: from the variables.
	Compression string
	// Timeout bounds one export; 0: from the variables, else 10 s.
	Timeout time.Duration
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Resolved is what NewClient chose, for logs and the export timeout.
type Resolved struct {
	Protocol string
	Endpoint string
	Timeout  time.Duration
}

// NewClient returns the SDK's OTLP metric exporter that o describes. The
// SDK's own retries are turned off: Exporter.Run retries, always with the
// latest figures.
func NewClient(ctx context.Context, o ClientOptions) (sdkmetric.Exporter, Resolved, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	r := Resolved{Protocol: o.Protocol, Endpoint: o.Endpoint, Timeout: o.Timeout}
	if r.Protocol == "" {
		r.Protocol = firstEnv(getenv, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch r.Protocol {
	case "", ProtocolGRPC:
		r.Protocol = ProtocolGRPC
	case "http", ProtocolHTTP:
		r.Protocol = ProtocolHTTP
	default:
		return nil, r, fmt.Errorf("otlp protocol %q: give grpc or http/protobuf", r.Protocol)
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
		if ms, err := strconv.Atoi(firstEnv(getenv, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")); err == nil && ms > 0 {
			r.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if r.Endpoint == "" {
		r.Endpoint = firstEnv(getenv, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if r.Endpoint == "" {
		r.Endpoint = "localhost:4317"
		if r.Protocol == ProtocolHTTP {
			r.Endpoint = "localhost:4318"
		}
	}
	endpointURL, err := endpointURL(o.Endpoint, r.Protocol)
	if err != nil {
		return nil, r, err
	}
	// The files from the variables where no flag names one: the HTTP
	// client is ours, so the SDK does not read them.
	caFile, certFile, keyFile := o.CAFile, o.CertFile, o.KeyFile
	if caFile == "" {
		caFile = firstEnv(getenv, "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE")
	}
	if certFile == "" && keyFile == "" {
		certFile = firstEnv(getenv, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE")
		keyFile = firstEnv(getenv, "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY")
	}
	tlsCfg, err := tlsConfig(caFile, certFile, keyFile)
	if err != nil {
		return nil, r, err
	}
	variable, env := firstEnvNamed(getenv, "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
	headers, err := mergeHeaders(env, variable, o.Headers)
	if err != nil {
		return nil, r, err
	}
	switch o.Compression {
	case "", "gzip", "none":
	default:
		return nil, r, fmt.Errorf("otlp compression %q: give gzip or none", o.Compression)
	}

	var exp sdkmetric.Exporter
	if r.Protocol == ProtocolGRPC {
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}), otlpmetricgrpc.WithTimeout(r.Timeout)}
		switch {
		case endpointURL != "":
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(endpointURL))
		case o.Endpoint != "":
			opts = append(opts, otlpmetricgrpc.WithEndpoint(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		if tlsCfg != nil {
			opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		if headers != nil {
			opts = append(opts, otlpmetricgrpc.WithHeaders(headers))
		}
		if o.Compression != "" {
			opts = append(opts, otlpmetricgrpc.WithCompressor(o.Compression))
		}
		exp, err = otlpmetricgrpc.New(ctx, opts...)
	} else {
		// Our own HTTP client, so that Run sees each answer's status and
		// Retry-After (the SDK's errors carry neither): the transport is
		// the SDK's default one, with the TLS settings.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = tlsCfg
		opts := []otlpmetrichttp.Option{otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}), otlpmetrichttp.WithTimeout(r.Timeout),
			otlpmetrichttp.WithHTTPClient(&http.Client{Transport: replyTransport{transport}, Timeout: r.Timeout})}
		switch {
		case endpointURL != "":
			opts = append(opts, otlpmetrichttp.WithEndpointURL(endpointURL))
		case o.Endpoint != "":
			opts = append(opts, otlpmetrichttp.WithEndpoint(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlpmetrichttp.WithInsecure())
		}
		if headers != nil {
			opts = append(opts, otlpmetrichttp.WithHeaders(headers))
		}
		switch o.Compression {
		case "gzip":
			opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
		case "none":
			opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression))
		}
		exp, err = otlpmetrichttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, r, fmt.Errorf("otlp %s client: %w", r.Protocol, err)
	}
	return exp, r, nil
}

func firstEnv(getenv func(string) string, keys ...string) string {
	_, v := firstEnvNamed(getenv, keys...)
	return v
}

// firstEnvNamed returns the first of the variables that is set, and its
// name.
func firstEnvNamed(getenv func(string) string, keys ...string) (key, value string) {
	for _, k := range keys {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return k, v
		}
	}
	return "", ""
}

// endpointURL returns e as a URL for the SDK when it is one ("" for a
// host:port). Over HTTP a URL with no path gets /v1/metrics, as the
// generic OTEL_EXPORTER_OTLP_ENDPOINT does.
func endpointURL(e, protocol string) (string, error) {
	if e == "" || !strings.Contains(e, "://") {
		return "", nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", fmt.Errorf("otlp endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("otlp endpoint %q: the scheme must be http or https", e)
	}
	if u.Host == "" {
		return "", fmt.Errorf("otlp endpoint %q: no host", e)
	}
	if protocol == ProtocolHTTP && (u.Path == "" || u.Path == "/") {
		u.Path = "/v1/metrics"
	}
	return u.String(), nil
}

// tlsConfig reads the PEM files; nil when none is given.
func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := tlsfile.CAPool(caFile)
		if errors.Is(err, tlsfile.ErrNoPEM) {
			return nil, fmt.Errorf("otlp CA file %s: %w", caFile, err)
		}
		if err != nil {
			return nil, fmt.Errorf("otlp CA file: %w", err)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("otlp client certificate: give both the certificate and the key file")
	}
	if certFile != "" {
		cert, err := tlsfile.KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("otlp client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
