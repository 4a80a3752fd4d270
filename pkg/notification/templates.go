package notification

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
)

// Locales the templates exist in; the first is the fallback.
var locales = []string{"en", "sw"}

//go:embed templates/*.json
var templateFS embed.FS

// localeFile is one templates/<locale>.json.
type localeFile struct {
	Templates map[string]struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"templates"`
	// Reasons are payment failure reasons in plain words.
	Reasons map[string]string `json:"reasons"`
}

// Templates renders notification texts per locale. Built once; safe for
// concurrent use.
type Templates struct {
	byLocale map[string]map[string][2]*template.Template // locale → name → {title, body}
	reasons  map[string]map[string]string
}

// ErrUnknownTemplate: no template of that name.
var ErrUnknownTemplate = errors.New("unknown notification template")

// LoadTemplates parses the embedded locale files.
func LoadTemplates() (*Templates, error) {
	t := &Templates{byLocale: map[string]map[string][2]*template.Template{}, reasons: map[string]map[string]string{}}
	for _, loc := range locales {
		raw, err := templateFS.ReadFile("templates/" + loc + ".json")
		if err != nil {
			return nil, fmt.Errorf("read %s templates: %w", loc, err)
		}
		var f localeFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("decode %s templates: %w", loc, err)
		}
		t.reasons[loc] = f.Reasons
		funcs := template.FuncMap{"kes": formatKES, "reason": t.reasonFunc(loc)}
		set := map[string][2]*template.Template{}
		for name, tt := range f.Templates {
			title, err := template.New(name + ".title").Funcs(funcs).Option("missingkey=error").Parse(tt.Title)
			if err != nil {
				return nil, fmt.Errorf("parse %s/%s title: %w", loc, name, err)
			}
			body, err := template.New(name + ".body").Funcs(funcs).Option("missingkey=error").Parse(tt.Body)
			if err != nil {
				return nil, fmt.Errorf("parse %s/%s body: %w", loc, name, err)
			}
			set[name] = [2]*template.Template{title, body}
		}
		t.byLocale[loc] = set
	}
	return t, nil
}

// Render returns the title and body of template name in locale (English
// when the locale is unknown) with params.
func (t *Templates) Render(name, locale string, params map[string]any) (title, body string, err error) {
	set, ok := t.byLocale[locale]
	if !ok {
		set = t.byLocale[locales[0]]
	}
	tt, ok := set[name]
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownTemplate, name)
	}
	var buf bytes.Buffer
	if err := tt[0].Execute(&buf, params); err != nil {
		return "", "", fmt.Errorf("render %s title: %w", name, err)
	}
	title = buf.String()
	buf.Reset()
	if err := tt[1].Execute(&buf, params); err != nil {
		return "", "", fmt.Errorf("render %s body: %w", name, err)
	}
	return title, buf.String(), nil
}

// Names lists the templates of a locale.
func (t *Templates) Names(locale string) []string {
	var out []string
	for name := range t.byLocale[locale] {
		out = append(out, name)
	}
	return out
}

func (t *Templates) reasonFunc(locale string) func(any) string {
	return func(code any) string {
		c := strings.ToLower(strings.TrimSpace(fmt.Sprint(code)))
		if s, ok := t.reasons[locale][c]; ok {
			return s
		}
		return t.reasons[locale]["unknown"]
	}
}

// formatKES writes a whole-shilling amount with thousands separators:
// 1500 → "1,500". Non-numbers are printed as given.
func formatKES(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		p, err := x.Float64()
		if err != nil {
			return x.String()
		}
		f = p
	case string:
		p, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return x
		}
		f = p
	default:
		return fmt.Sprint(v)
	}
	n := int64(math.Round(f))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
