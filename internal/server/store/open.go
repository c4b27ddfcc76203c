package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

//go:embed migrations
var migrations embed.FS

// maxConns bounds each node's database connections.
const maxConns = 16

// gooseTable is goose's version table.
const gooseTable = "goose_db_version"

// sqliteParams: WAL (readers never wait for the writer), a busy timeout
// (writers queue instead of failing), foreign keys on, and BEGIN IMMEDIATE
// for every transaction, so that a transaction that reads then writes holds
// the write lock from its start and never fails on an upgrade.
const sqliteParams = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(FULL)&_txlock=immediate"

// ParseURL splits store.url into its dialect and the driver's DSN:
// "sqlite:///abs/path.db" (or "sqlite://rel/path.db") and "postgres://…" or
// "postgresql://…" (passed to pgx as is).
func ParseURL(u string) (kind, dsn string, err error) {
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		path := strings.TrimPrefix(u, "sqlite://")
		if path == "" {
			return "", "", fmt.Errorf("store url %q: no file name; want sqlite:///path/to/platform.db", u)
		}
		if strings.ContainsAny(path, "?#") {
			return "", "", fmt.Errorf("store url %q: parameters are not supported for sqlite; want sqlite:///path/to/platform.db", u)
		}
		return sqliteDialect.kind, "file:" + path + "?" + sqliteParams, nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			return "", "", fmt.Errorf("store url: %w", err)
		}
		return postgresDialect.kind, u, nil
	default:
		return "", "", fmt.Errorf("store url %q: want sqlite:///path/to/platform.db or postgres://user@host/db", redact(u))
	}
}

// redact hides a password in a URL for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// Open opens the store at u (see ParseURL). With migrate, it first brings
// the schema to this build's version; then, in either case, it refuses a
// schema of another version (ErrSchema, naming both versions).
func Open(ctx context.Context, u string, migrate bool) (Store, error) {
	kind, dsn, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	d := sqliteDialect
	if kind == postgresDialect.kind {
		d = postgresDialect
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", redact(u), err)
	}
	// A bounded pool: 16 connections a node is plenty for short
	// transactions, and N nodes stay within PostgreSQL's max_connections
	// (100 by default) for N up to 6.
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", redact(u), err)
	}
	s := &sqlStore{ops: ops{d: d, q: db}, db: db}
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	current, want, err := s.SchemaVersion(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if current != want {
		db.Close()
		hint := "run: bindpay-platform migrate"
		if current > want {
			hint = "this bindpay-platform is older than the database: run a newer one"
		}
		return nil, fmt.Errorf("store %s: %w: the database has schema version %d, this build wants %d; %s",
			redact(u), ErrSchema, current, want, hint)
	}
	return s, nil
}

// sqlStore is the Store over database/sql, in one dialect.
type sqlStore struct {
	ops
	db *sql.DB
}

func (s *sqlStore) Kind() string { return s.d.kind }

func (s *sqlStore) Close() error { return s.db.Close() }

func (s *sqlStore) Ping(ctx context.Context) error {
	var one int
	if err := s.row(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func (s *sqlStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(ops{d: s.d, q: tx, inTx: true}); err != nil {
		_ = tx.Rollback() // fn's error says more than a failed rollback
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (s *sqlStore) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, s.d.migrations)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if s.d.kind == postgresDialect.kind {
		// Several serve processes starting at once migrate one at a time.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(s.d.goose, s.db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// Want is the schema version of this build.
func (s *sqlStore) want(p *goose.Provider) int64 {
	src := p.ListSources()
	return src[len(src)-1].Version
}

func (s *sqlStore) SchemaVersion(ctx context.Context) (current, want int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	want = s.want(p)
	// Reading the version must not create goose's table in a database
	// that has none: look for it first.
	var one int
	err = s.row(ctx, s.d.tableQuery, gooseTable).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, want, nil
	}
	if err != nil {
		return 0, want, fmt.Errorf("store: schema version: %w", err)
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, want, fmt.Errorf("store: schema version: %w", err)
	}
	return current, want, nil
}

func (s *sqlStore) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}
