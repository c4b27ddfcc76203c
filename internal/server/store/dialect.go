package store

import (
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
)

// dialect is everything that differs between the SQLite and the PostgreSQL
// store: the rest of the SQL is the same text.
type dialect struct {
	kind       string        // "sqlite" or "postgres"
	driver     string        // database/sql driver name
	goose      goose.Dialect // for the migrations
	migrations string        // directory under migrations/
	dollar     bool          // placeholders are $1, $2 … instead of ?
	forUpdate  string        // appended to a SELECT that locks its rows inside Update
	skipLocked string        // appended to a SELECT that claims work inside Update
	tableQuery string        // one row when table ? exists
	moLock     string        // inside Update, serialises MO intake per sender ("" when Update already does)
}

var (
	sqliteDialect = dialect{
		kind:       "sqlite",
		driver:     "sqlite",
		goose:      goose.DialectSQLite3,
		migrations: "migrations/sqlite",
		tableQuery: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
	}
	postgresDialect = dialect{
		kind:       "postgres",
		driver:     "pgx",
		goose:      goose.DialectPostgres,
		migrations: "migrations/postgres",
		dollar:     true,
		forUpdate:  " FOR UPDATE",
		skipLocked: " FOR UPDATE SKIP LOCKED",
		tableQuery: "SELECT 1 WHERE to_regclass(?) IS NOT NULL",
		moLock:     "SELECT pg_advisory_xact_lock(hashtextextended(?, 7310))",
	}
)

// rebind rewrites the ? placeholders of q for the dialect. The queries of
// this package never have a ? inside a string literal.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
