package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Tracing configures OpenTelemetry tracing from the standard OTEL_*
// variables. It is off unless OTEL_TRACES_EXPORTER=otlp: no exporter, the
// no-op tracer provider, nearly no cost. The OTLP exporter also reads the
// standard variables this struct does not list (OTEL_EXPORTER_OTLP_HEADERS,
// _TIMEOUT, _CERTIFICATE, …) and OTEL_RESOURCE_ATTRIBUTES from the process
// environment itself.
type Tracing struct {
	// Exporter: "none" (default, tracing off) or "otlp".
	Exporter string `env:"OTEL_TRACES_EXPORTER" envDefault:"none"`
	// Protocol of the OTLP exporter: "http/protobuf" (default) or "grpc".
	Protocol string `env:"OTEL_EXPORTER_OTLP_PROTOCOL" envDefault:"http/protobuf"`
	// Endpoint is the collector's base URL (http: /v1/traces is appended);
	// TracesEndpoint, when set, is the full traces URL and wins.
	Endpoint       string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	// ServiceName is the service.name resource attribute.
	ServiceName string `env:"OTEL_SERVICE_NAME" envDefault:"fundigo"`
	// Sampler: always_on, always_off, traceidratio, parentbased_always_on
	// (default), parentbased_always_off, parentbased_traceidratio.
	Sampler    string `env:"OTEL_TRACES_SAMPLER" envDefault:"parentbased_always_on"`
	SamplerArg string `env:"OTEL_TRACES_SAMPLER_ARG"`
	// SDKDisabled (OTEL_SDK_DISABLED=true) turns tracing off whatever else is set.
	SDKDisabled bool `env:"OTEL_SDK_DISABLED"`
}

// Enabled reports whether spans are exported at all.
func (c Tracing) Enabled() bool { return !c.SDKDisabled && c.Exporter == "otlp" }

// SamplerRatio is OTEL_TRACES_SAMPLER_ARG for the ratio samplers (default 1).
func (c Tracing) SamplerRatio() float64 {
	if c.SamplerArg == "" {
		return 1
	}
	v, _ := strconv.ParseFloat(c.SamplerArg, 64) // validated
	return v
}

func (c Tracing) validate() []error {
	var errs []error
	switch c.Exporter {
	case "none", "otlp":
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want none or otlp", c.Exporter))
	}
	switch c.Protocol {
	case "http/protobuf", "grpc":
	default:
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", c.Protocol))
	}
	for name, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": c.Endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": c.TracesEndpoint} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: want an absolute http(s) URL", name)) // may carry credentials: not echoed
		}
	}
	switch c.Sampler {
	case "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
	case "traceidratio", "parentbased_traceidratio":
		if c.SamplerArg != "" {
			if v, err := strconv.ParseFloat(c.SamplerArg, 64); err != nil || v < 0 || v > 1 {
				errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio between 0 and 1", c.SamplerArg))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio or their parentbased_ forms", c.Sampler))
	}
	if strings.TrimSpace(c.ServiceName) == "" {
		errs = append(errs, fmt.Errorf("OTEL_SERVICE_NAME must not be blank"))
	}
	return errs
}

// Sentry configures optional error reporting to Sentry: off while the DSN
// is empty.
type Sentry struct {
	DSN Secret `env:"FUNDIGO_SENTRY_DSN"`
	// Environment tags every event (production, staging, …).
	Environment string `env:"FUNDIGO_SENTRY_ENVIRONMENT" envDefault:"production"`
}

func (c Sentry) validate() []error {
	if c.DSN == "" {
		return nil
	}
	u, err := url.Parse(c.DSN.Reveal())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User == nil {
		return []error{fmt.Errorf("FUNDIGO_SENTRY_DSN: want https://<key>@<host>/<project>")}
	}
	return nil
}
