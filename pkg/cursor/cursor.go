// Package cursor is keyset (cursor) pagination in the style of Django REST
// framework's CursorPagination: a list has one fixed, total ordering, and a
// page is found from the position of a row in it rather than an offset, so
// rows inserted while a client pages through never make it see a row twice
// or skip one.
//
// A Position is the sort key of one row: (Time, ID) for lists ordered by
// -created_at with the id as tiebreak, or (Key, Count, ID) for rankings. It
// travels as an opaque token (base64url JSON); clients copy it from a
// page's next or previous link and never build one.
//
// The domain stores own the SQL: each List query takes a Query, fetches
// Size+1 rows after (or, Reverse, before) the position in its order, and
// hands them to Cut, which trims the page and computes its links.
package cursor

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// DefaultSize and MaxSize bound page_size.
const (
	DefaultSize = 20
	MaxSize     = 100
	// MaxTokenLen caps an encoded cursor a client may send.
	MaxTokenLen = 512
)

// Position is the sort key of one row. Lists fill the fields their ordering
// uses and leave the rest zero.
type Position struct {
	Time time.Time `json:"t,omitzero"`
	// Key is a textual sort key (a numeric's text, so it compares exactly).
	Key   string `json:"k,omitempty"`
	Count int64  `json:"n,omitempty"`
	ID    string `json:"i"`
}

// Query is one page request: Size rows after After in the list's order, or,
// when Reverse, the Size rows just before it (a "previous" link). After nil
// is the first page.
type Query struct {
	After   *Position
	Reverse bool
	Size    int
}

// token is the encoded form; the field names are short as tokens ride in
// URLs.
type token struct {
	Position
	Reverse bool `json:"r,omitempty"`
}

// ErrInvalid is a cursor that this server did not issue (or no longer
// reads).
var ErrInvalid = errors.New("invalid cursor")

// Encode returns the opaque token of a page that starts after p (or, with
// reverse, ends before p).
func Encode(p Position, reverse bool) string {
	b, _ := json.Marshal(token{Position: p, Reverse: reverse}) // plain fields: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode parses a token from a client into a Query of size rows; an empty
// token is the first page. Any token this package did not write is
// ErrInvalid.
func Decode(s string, size int) (Query, error) {
	q := Query{Size: size}
	if s == "" {
		return q, nil
	}
	if len(s) > MaxTokenLen {
		return q, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return q, ErrInvalid
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return q, ErrInvalid
	}
	q.After, q.Reverse = &t.Position, t.Reverse
	return q, nil
}

// Page is one cut page: its rows in list order and the tokens of the pages
// around it ("" when there is none).
type Page[T any] struct {
	Items    []T
	Next     string
	Previous string
}

// Cut trims rows, fetched with limit q.Size+1 in the query's direction
// (list order, or reversed when q.Reverse), to one page in list order and
// computes its links; key gives a row's position.
//
// Like DRF, the first page has no previous link, and a page reached by
// going back always has a next one.
func Cut[T any](q Query, rows []T, key func(T) Position) Page[T] {
	more := len(rows) > q.Size
	if more {
		rows = rows[:q.Size]
	}
	if q.Reverse {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	p := Page[T]{Items: rows}
	if len(rows) == 0 {
		return p // nothing on either side of a position we can name
	}
	first, last := key(rows[0]), key(rows[len(rows)-1])
	switch {
	case q.Reverse:
		p.Next = Encode(last, false)
		if more {
			p.Previous = Encode(first, true)
		}
	default:
		if more {
			p.Next = Encode(last, false)
		}
		if q.After != nil {
			p.Previous = Encode(first, true)
		}
	}
	return p
}

// Size parses page_size: "" is DefaultSize; anything but 1..MaxSize is an
// error naming the bounds.
func Size(s string) (int, error) {
	if s == "" {
		return DefaultSize, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n < 1 || n > MaxSize {
		return 0, fmt.Errorf("must be an integer from 1 to %d", MaxSize)
	}
	return n, nil
}

// Limit is the LIMIT of q's query: one row more than the page, to know
// whether there is a next one.
func (q Query) Limit() int { return q.Size + 1 }

// TimeKeyset is the SQL of a list ordered newest first, by timeCol DESC then
// idCol DESC (the tiebreak that makes the order total): the condition
// selecting the rows past q's position (its arguments numbered from $n, none
// on a first page, when the condition is "true") and the ORDER BY clause
// for q's direction. Column names are the caller's constants, never input.
func (q Query) TimeKeyset(timeCol, idCol string, n int) (cond, order string, args []any) {
	cmp, dir := "<", "DESC"
	if q.Reverse {
		cmp, dir = ">", "ASC"
	}
	order = fmt.Sprintf(" ORDER BY %s %s, %s %s", timeCol, dir, idCol, dir)
	if q.After == nil {
		return "true", order, nil
	}
	return fmt.Sprintf("(%s, %s) %s ($%d, $%d)", timeCol, idCol, cmp, n, n+1), order, []any{q.After.Time, q.After.ID}
}
