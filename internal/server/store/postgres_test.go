package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	_ "github.com/jackc/pgx/v5/stdlib"

	"bindpay/internal/server/store/storetest"
)

// PostgresEnv names the DSN of a PostgreSQL server the tests may create
// databases on (.ci/run starts one and sets it).
const PostgresEnv = "BINDPAY_TEST_POSTGRES"

func TestPostgresConformance(t *testing.T) {
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the store conformance suite on PostgreSQL (.ci/run starts a server and sets it)", PostgresEnv)
		}
		t.Skipf("%s is not set: PostgreSQL store not tested (set it to postgres://user@host:port/db?sslmode=disable of a server where the user may CREATE DATABASE)", PostgresEnv)
	}
	storetest.Run(t, "postgres", func(t *testing.T) string { return freshDatabase(t, dsn) })
}

// freshDatabase creates an empty database for one test on the server of
// dsn and drops it when the test ends; it returns the new database's URL.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bindpay_test_" + hex.EncodeToString(b[:])
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err, "create database on %s", PostgresEnv)
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
