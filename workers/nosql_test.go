package workers_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sqlStatement matches a string literal that is (or contains) a SQL
// statement: SELECT … FROM, INSERT INTO, UPDATE … SET, DELETE FROM.
var sqlStatement = regexp.MustCompile(`(?is)\bSELECT\b.+\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\S+\s+SET\b|\bDELETE\s+FROM\b`)

// knownSQL lists entry-point files that still hold SQL, each with where it
// should go. The test fails when one of them no longer does, so the list only
// shrinks.
var knownSQL = map[string]string{}

// TestEntryPointsHoldNoSQL enforces docs/ARCHITECTURE.md ("Layers"): api, the workers
// (including celerycompat) and cmd are adapters; the SQL of a domain lives in
// pkg/<domain>/store.go and the rest in pkg building blocks. Test files may
// query (to check what a flow stored).
func TestEntryPointsHoldNoSQL(t *testing.T) {
	t.Parallel()
	var found []string
	for _, dir := range []string{"../api", ".", "../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			lits := sqlLiterals(t, path)
			if _, known := knownSQL[path]; known {
				require.NotEmpty(t, lits, "%s holds no SQL any more: remove it from knownSQL", path)
				return nil
			}
			found = append(found, lits...)
			return nil
		})
		require.NoError(t, err)
	}
	require.Empty(t, found, "SQL belongs in pkg/<domain>/store.go or a pkg building block")
}

// sqlLiterals lists "file:line: literal" for every SQL string literal in path.
func sqlLiterals(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	require.NoError(t, err)
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err == nil && sqlStatement.MatchString(s) {
			first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
			out = append(out, fset.Position(lit.Pos()).String()+": "+first)
		}
		return true
	})
	return out
}

func TestSQLStatementPattern(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"SELECT id FROM payments WHERE id = $1",
		"\n\t\tINSERT INTO outbox (id) VALUES ($1)",
		"UPDATE payments SET status = 'paid'",
		"delete from reviews where id = $1",
		"WITH x AS (SELECT 1 FROM t) SELECT * FROM x",
	} {
		require.True(t, sqlStatement.MatchString(s), s)
	}
	for _, s := range []string{
		"select a payment method",
		"update the rating",
		"delete the device",
		"payment.paid",
		"Insert a review, then select it",
	} {
		require.False(t, sqlStatement.MatchString(s), s)
	}
}
