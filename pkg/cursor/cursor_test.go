package cursor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/cursor"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	p := cursor.Position{Time: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ID: "a:b"}
	q, err := cursor.Decode(cursor.Encode(p, true), 7)
	require.NoError(t, err)
	require.True(t, q.Reverse)
	require.Equal(t, 7, q.Size)
	require.True(t, p.Time.Equal(q.After.Time))
	require.Equal(t, p.ID, q.After.ID)
}

func TestDecodeRefusesForeignTokens(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"x", "!!", "e30", strings.Repeat("a", cursor.MaxTokenLen+1), "bnVsbA"} { // e30 = {}, bnVsbA = null
		_, err := cursor.Decode(s, 20)
		require.ErrorIs(t, err, cursor.ErrInvalid, s)
	}
	q, err := cursor.Decode("", 20)
	require.NoError(t, err)
	require.Nil(t, q.After, "no cursor is the first page")
}

func TestSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{"": 20, "1": 1, "100": 100} {
		n, err := cursor.Size(in)
		require.NoError(t, err)
		require.Equal(t, want, n)
	}
	for _, in := range []string{"0", "101", "-1", "x", "1.5", "07", " 5"} {
		_, err := cursor.Size(in)
		require.Error(t, err, in)
	}
}

// TestCut: links exist exactly when there is something on that side.
func TestCut(t *testing.T) {
	t.Parallel()
	key := func(i int) cursor.Position { return cursor.Position{ID: string(rune('a' + i))} }
	first := cursor.Cut(cursor.Query{Size: 2}, []int{0, 1, 2}, key)
	require.Equal(t, []int{0, 1}, first.Items)
	require.NotEmpty(t, first.Next)
	require.Empty(t, first.Previous, "the first page has no previous")

	q, err := cursor.Decode(first.Next, 2)
	require.NoError(t, err)
	last := cursor.Cut(q, []int{2}, key)
	require.Empty(t, last.Next, "the last page has no next")
	require.NotEmpty(t, last.Previous)

	q, err = cursor.Decode(last.Previous, 2)
	require.NoError(t, err)
	require.True(t, q.Reverse)
	back := cursor.Cut(q, []int{1, 0}, key) // fetched in reverse order
	require.Equal(t, []int{0, 1}, back.Items, "a reverse page is put back in list order")
	require.NotEmpty(t, back.Next)
	require.Empty(t, back.Previous, "nothing before it")

	q.After = &cursor.Position{ID: "z"}
	require.Equal(t, cursor.Page[int]{Items: []int{}}, cursor.Cut(q, []int{}, key))
}

func TestTimeKeyset(t *testing.T) {
	t.Parallel()
	cond, order, args := cursor.Query{Size: 5}.TimeKeyset("created_at", "id", 3)
	require.Equal(t, "true", cond)
	require.Equal(t, " ORDER BY created_at DESC, id DESC", order)
	require.Empty(t, args)
	cond, order, args = cursor.Query{Size: 5, Reverse: true, After: &cursor.Position{ID: "x"}}.TimeKeyset("created_at", "id", 3)
	require.Equal(t, "(created_at, id) > ($3, $4)", cond)
	require.Equal(t, " ORDER BY created_at ASC, id ASC", order)
	require.Len(t, args, 2)
}
