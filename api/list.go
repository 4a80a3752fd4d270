package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/cursor"
)

// page is the body of every list (DRF CursorPagination's shape): next and
// previous are links to the neighbouring pages (null at either end).
type page[V any] struct {
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []V     `json:"results"`
}

// listQuery reads a list request's query: page_size (default 20, at most
// 100), cursor, and the filters in allowed; any other parameter, or one
// given twice, is a 400 naming it. A cursor this server did not issue is a
// 400 too.
func listQuery(c echo.Context, allowed ...string) (cursor.Query, error) {
	qs := c.QueryParams()
	var unknown []string
	for k, v := range qs {
		if k != "cursor" && k != "page_size" && !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
			continue
		}
		if len(v) > 1 {
			return cursor.Query{}, NewProblem(http.StatusBadRequest, "query parameter "+k+" is given more than once")
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		valid := append([]string{"cursor", "page_size"}, allowed...)
		sort.Strings(valid)
		return cursor.Query{}, NewProblem(http.StatusBadRequest, "unknown query parameter "+strings.Join(unknown, ", ")+
			"; this list takes "+strings.Join(valid, ", "))
	}
	size, err := cursor.Size(qs.Get("page_size"))
	if err != nil {
		return cursor.Query{}, Validation(FieldError{Field: "page_size", Message: err.Error()})
	}
	q, err := cursor.Decode(qs.Get("cursor"), size)
	if err != nil {
		return cursor.Query{}, badCursor()
	}
	return q, nil
}

func badCursor() *Problem {
	return NewProblem(http.StatusBadRequest, "the cursor is not one this list issued; start again without it")
}

// answerPage writes p with links that repeat the request's query with the
// neighbouring pages' cursors.
func answerPage[T, V any](c echo.Context, p cursor.Page[T], view func(T) V) error {
	out := page[V]{Results: make([]V, len(p.Items))}
	for i, it := range p.Items {
		out.Results[i] = view(it)
	}
	return writeJSON(c, http.StatusOK, answerLinks(c, p, &out))
}

// writeJSON answers v without escaping &, < and > (links hold query strings;
// encoding/json would write & as \u0026).
func writeJSON(c echo.Context, status int, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	return c.JSONBlob(status, b.Bytes())
}

// answerLinks sets out's next and previous links from p's cursors and
// returns out.
func answerLinks[T, V any](c echo.Context, p cursor.Page[T], out *page[V]) *page[V] {
	link := func(tok string) *string {
		if tok == "" {
			return nil
		}
		q := c.QueryParams()
		u := url.URL{Path: c.Request().URL.Path}
		vals := url.Values{}
		for k, v := range q {
			vals[k] = v
		}
		vals.Set("cursor", tok)
		u.RawQuery = vals.Encode()
		s := u.String()
		return &s
	}
	out.Next, out.Previous = link(p.Next), link(p.Previous)
	return out
}

// listError maps a store's cursor refusal to 400.
func listError(err error) error {
	if errors.Is(err, cursor.ErrInvalid) {
		return badCursor()
	}
	return err
}
