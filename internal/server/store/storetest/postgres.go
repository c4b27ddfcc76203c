package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/require"
)

// PostgresEnv names the DSN of a PostgreSQL server the tests may create
// databases on (.ci/run starts one and sets it).
const PostgresEnv = "BINDPAY_TEST_POSTGRES"

// RequirePostgres returns BINDPAY_TEST_POSTGRES; without it the test
// fails when CI is set (CI must test PostgreSQL) and is skipped with a
// message otherwise.
func RequirePostgres(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/run starts a server and sets it)", PostgresEnv)
		}
		t.Skipf("%s is not set: PostgreSQL not tested (set it to postgres://user@host:port/db?sslmode=disable of a server where the user may CREATE DATABASE)", PostgresEnv)
	}
	return dsn
}

// PostgresURL returns the URL of a fresh, empty PostgreSQL database for
// one test, dropped when the test ends. Without BINDPAY_TEST_POSTGRES the
// test fails when CI is set (CI must test PostgreSQL) and is skipped with a
// message otherwise.
func PostgresURL(t *testing.T) string {
	t.Helper()
	dsn := RequirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bindpay_test_" + hex.EncodeToString(b[:])
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err, "create a database on %s", PostgresEnv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		require.NoError(t, err, "drop test database %s", name)
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err, "%s must be a postgres:// URL", PostgresEnv)
	u.Path = "/" + name
	return u.String()
}
