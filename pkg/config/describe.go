package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Source says where a variable's effective value comes from.
type Source string

// Sources of a value.
const (
	FromEnv     Source = "env"     // set in the environment
	FromDefault Source = "default" // the built-in default
	FromDerived Source = "derived" // computed from other settings (e.g. FUNDIGO_PUBLIC_URL from FUNDIGO_HTTP_ADDR)
)

// Setting is one row of `fundigo config`: a variable, its effective value
// (secrets redacted; a URL shows everything but its password), its default
// and where the value came from.
type Setting struct {
	Key     string
	Value   string
	Default string
	Source  Source
}

// Describe lists every variable cfg was loaded from, in declaration order,
// with cfg's effective value of it; getenv is what Load read.
func Describe(cfg Config, getenv func(string) string) []Setting {
	var out []Setting
	eachVariable(reflect.ValueOf(cfg), func(key string, f reflect.StructField, v reflect.Value) {
		s := Setting{Key: key, Value: display(v, f.Tag), Default: displayDefault(f.Tag.Get("envDefault"), f.Type, f.Tag), Source: FromDefault}
		switch {
		case getenv(key) != "":
			s.Source = FromEnv
		case s.Value != s.Default:
			s.Source = FromDerived
		}
		out = append(out, s)
	})
	return out
}

// eachVariable calls fn, in declaration order, for every field of v (a
// Config or one of its sub-structs) read from an environment variable.
func eachVariable(v reflect.Value, fn func(key string, f reflect.StructField, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		switch key := f.Tag.Get("env"); {
		case key != "":
			fn(key, f, v.Field(i))
		case f.Type.Kind() == reflect.Struct:
			eachVariable(v.Field(i), fn)
		}
	}
}

var (
	secretType   = reflect.TypeOf(Secret(""))
	apiKeysType  = reflect.TypeOf(APIKeys(nil))
	durationType = reflect.TypeOf(time.Duration(0))
)

// display renders a field's value as an operator would write it.
func display(v reflect.Value, tag reflect.StructTag) string {
	switch {
	case v.Type() == secretType:
		return redactSecret(string(v.Interface().(Secret)))
	case v.Type() == apiKeysType:
		keys := v.Interface().(APIKeys)
		names := make([]string, 0, len(keys))
		for _, k := range keys {
			names = append(names, k.Name+":"+redacted)
		}
		return strings.Join(names, ",")
	case v.Type() == durationType:
		return v.Interface().(time.Duration).String()
	}
	sep := tag.Get("envSeparator")
	if sep == "" {
		sep = ","
	}
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, 0, v.Len())
		for i := range v.Len() {
			parts = append(parts, fmt.Sprint(v.Index(i).Interface()))
		}
		return strings.Join(parts, sep)
	case reflect.Map:
		kv := tag.Get("envKeyValSeparator")
		if kv == "" {
			kv = ":"
		}
		parts := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			parts = append(parts, fmt.Sprint(k.Interface())+kv+fmt.Sprint(v.MapIndex(k).Interface()))
		}
		slices.Sort(parts)
		return strings.Join(parts, sep)
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v.Interface())
}

// displayDefault renders a default the way display renders the value it
// parses to, so an untouched setting compares equal to its default.
func displayDefault(def string, t reflect.Type, tag reflect.StructTag) string {
	switch {
	case def == "":
		return display(reflect.Zero(t), tag) // false, 0, or nothing
	case t == secretType:
		return redactSecret(def)
	case t == durationType:
		if d, err := time.ParseDuration(def); err == nil {
			return d.String()
		}
	case t.Kind() == reflect.Map:
		parts := strings.Split(def, ",")
		slices.Sort(parts)
		return strings.Join(parts, ",")
	}
	return def
}

// redactSecret hides a secret; a URL keeps its scheme, user, host and path
// and loses only its password, so an operator can see where it points.
func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return redacted
}

// parseEach parses every variable in vars on its own, so a bad value is
// reported under its variable's name (never a Go field's) with what the
// variable expects, and is then left out, so the rest of the configuration
// loads and no error follows from the bad one.
func parseEach(vars map[string]string) []error {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	secret := secretKeys()
	for _, k := range keys {
		var probe Config
		err := env.ParseWithOptions(&probe, env.Options{Environment: map[string]string{k: vars[k]}})
		if err == nil {
			continue
		}
		shown := fmt.Sprintf("%q", truncate(vars[k], 64))
		if secret[k] {
			shown = redacted // a secret never appears in an error
		}
		errs = append(errs, fmt.Errorf("%s=%s: %s", k, shown, expectation(err)))
		delete(vars, k)
	}
	return errs
}

// expectation describes what a variable that failed to parse wants.
func expectation(err error) string {
	var pe env.ParseError
	if errors.As(err, &pe) && pe.Type != nil {
		switch t := pe.Type; {
		case t == durationType:
			return "want a duration such as 500ms, 30s or 5m"
		case t.Kind() == reflect.Bool:
			return "want true or false"
		case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
			return "want a whole number"
		case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
			return "want a number"
		case t.Kind() == reflect.Map:
			return "want key=value pairs separated by commas"
		}
	}
	// Our own types (APIKeys, throttle rates) already say what they want.
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "env:") {
		msg = msg[i+2:]
	}
	return msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// secretKeys are the variables whose values are secrets (Secret, APIKeys).
func secretKeys() map[string]bool {
	out := map[string]bool{}
	eachVariable(reflect.ValueOf(Config{}), func(key string, f reflect.StructField, _ reflect.Value) {
		if f.Type == secretType || f.Type == apiKeysType {
			out[key] = true
		}
	})
	return out
}
