package config

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Secret is a string that never prints: String, GoString, MarshalJSON and
// MarshalText all redact, so logging or dumping a Config is always safe.
// Use Reveal where the value is really needed.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String redacts.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts (%#v).
func (s Secret) GoString() string { return s.String() }

// MarshalJSON redacts.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// APIKey is a named service key.
type APIKey struct {
	Name   string
	Secret Secret
}

// APIKeys is the parsed FUNDIGO_API_KEYS list (`name:secret,name:secret`).
type APIKeys []APIKey

// UnmarshalText parses `name:secret` pairs separated by commas.
func (k *APIKeys) UnmarshalText(b []byte) error {
	var out APIKeys
	var errs []error
	seen := map[string]bool{}
	for i, part := range strings.Split(string(b), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, secret, ok := strings.Cut(part, ":")
		if !ok || name == "" || len(secret) < 16 {
			errs = append(errs, fmt.Errorf("FUNDIGO_API_KEYS entry %d: want name:secret with a secret of at least 16 characters", i+1))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("FUNDIGO_API_KEYS: duplicate name %q", name))
			continue
		}
		seen[name] = true
		out = append(out, APIKey{Name: name, Secret: Secret(secret)})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*k = out
	return nil
}

// Match returns the name of the key equal to presented, comparing every key
// in constant time (no early exit that would reveal which one matched).
func (k APIKeys) Match(presented string) (string, bool) {
	name, found := "", false
	for _, key := range k {
		if subtle.ConstantTimeCompare([]byte(key.Secret), []byte(presented)) == 1 {
			name, found = key.Name, true
		}
	}
	return name, found
}

// String lists the key names only.
func (k APIKeys) String() string {
	names := make([]string, len(k))
	for i, key := range k {
		names[i] = key.Name + ":" + redacted
	}
	return strings.Join(names, ",")
}

// MarshalJSON lists the key names only.
func (k APIKeys) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }
