package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/ext/fts5"
	"github.com/ncruces/go-sqlite3/gormlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"
)

// Dialect names, as GORM reports them.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DBConfig says where the database is and how big its pool may grow.
type DBConfig struct {
	URL          string // postgres://, postgresql://, or a SQLite path / sqlite:// URL
	MaxOpenConns int
	MaxIdleConns int
	ConnMaxLife  time.Duration
	Logger       *slog.Logger
	// Lazy opens the pool without connecting: the server can then start
	// while the database is down, and answer 503 until it is back.
	Lazy bool
}

// DialectOf tells which database a DATABASE_URL selects.
func DialectOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// SQLiteDSN turns a path or sqlite:// URL into the driver's DSN with the
// settings a web server needs: WAL, a busy timeout, foreign keys, and
// immediate write transactions (no lock upgrade deadlocks).
func SQLiteDSN(raw string) string {
	path := strings.TrimPrefix(raw, "sqlite://")
	path = strings.TrimPrefix(path, "sqlite:")
	path = strings.TrimPrefix(path, "file:")
	q := url.Values{}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		q, _ = url.ParseQuery(path[i+1:])
		path = path[:i]
	}
	for _, p := range []string{"busy_timeout(5000)", "journal_mode(wal)", "foreign_keys(1)", "synchronous(normal)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// Times are stored as SQLite writes them (TimeFormat3, UTC) and read
	// back with that one layout: "sqlite" reads with TimeFormatAuto, which
	// tries five other layouts first, each failure an allocated error, on
	// every time column of every row.
	q.Set("_timefmt", string(sqlite3.TimeFormat3))
	return "file:" + path + "?" + q.Encode()
}

// Open connects to the database named by cfg.URL. It never changes the
// schema: goose owns it (see Migrator).
func Open(ctx context.Context, cfg DBConfig) (*gorm.DB, error) {
	gcfg := &gorm.Config{
		Logger:                 newGormLogger(cfg.Logger),
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                Now,
		DisableAutomaticPing:   true, // Open pings itself, unless Lazy
		// No PrepareStmt: pgx already runs every statement prepared, from
		// a per-connection cache bounded at 512 and evicted LRU (its
		// default cache_statement mode); GORM's cache on top is unbounded
		// by default and measured no faster (slower in transactions, where
		// it prepares again on the transaction's connection).
	}
	var dial gorm.Dialector
	var readers *sql.DB // SQLite: the read pool beside the one writer
	switch DialectOf(cfg.URL) {
	case Postgres:
		dial = postgres.New(postgres.Config{DSN: cfg.URL})
	default:
		// FTS5 (the knowledge base's keyword index) and search_fold (the
		// lists' search, search.go) are registered on every connection the
		// pools open.
		writer, err := driver.Open(SQLiteDSN(cfg.URL), withSearchFold(fts5.Register))
		if err != nil {
			return nil, fmt.Errorf("open sqlite database: %w", redact(err, cfg.URL))
		}
		readers, err = driver.Open(SQLiteDSN(cfg.URL)+"&_pragma=query_only(1)", withSearchFold(fts5.Register))
		if err != nil {
			_ = writer.Close()
			return nil, fmt.Errorf("open sqlite database: %w", redact(err, cfg.URL))
		}
		dial = gormlite.OpenDB(writer)
	}
	db, err := gorm.Open(dial, gcfg)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", DialectOf(cfg.URL), redact(err, cfg.URL))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("database handle: %w", err)
	}
	maxOpen, maxIdle := cfg.MaxOpenConns, cfg.MaxIdleConns
	if maxOpen <= 0 {
		maxOpen = 10
	}
	if maxIdle <= 0 || maxIdle > maxOpen {
		maxIdle = maxOpen
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	if cfg.ConnMaxLife > 0 {
		sqlDB.SetConnMaxLifetime(cfg.ConnMaxLife)
	}
	if readers != nil {
		// SQLite has one writer at a time. One write connection makes
		// writers queue in the pool instead of spinning on the database
		// lock (busy_timeout); reads go to a pool of read-only connections
		// beside it, which WAL lets run while the writer writes. Reads in
		// a transaction stay on the transaction's connection.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		readers.SetMaxOpenConns(maxOpen)
		readers.SetMaxIdleConns(maxIdle)
		if err := db.Use(readPool{readers}); err != nil {
			_ = readers.Close()
			_ = sqlDB.Close()
			return nil, fmt.Errorf("sqlite read pool: %w", err)
		}
		if err := db.Use(dbresolver.Register(dbresolver.Config{Replicas: []gorm.Dialector{gormlite.OpenDB(readers)}})); err != nil {
			_ = readers.Close()
			_ = sqlDB.Close()
			return nil, fmt.Errorf("sqlite read pool: %w", err)
		}
	}
	if cfg.Lazy {
		return db, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", DialectOf(cfg.URL), redact(err, cfg.URL))
	}
	return db, nil
}

// readPool keeps SQLite's read pool with the *gorm.DB, so that Close can
// close it too (a GORM plugin: the registry GORM keeps per database).
type readPool struct{ db *sql.DB }

func (readPool) Name() string              { return "tienda:read_pool" }
func (readPool) Initialize(*gorm.DB) error { return nil }

// Close closes every connection pool of db (SQLite has two).
func Close(db *gorm.DB) error {
	var errs []error
	if rp, ok := db.Config.Plugins[readPool{}.Name()].(readPool); ok {
		errs = append(errs, rp.db.Close())
	}
	sqlDB, err := db.DB()
	if err == nil {
		err = sqlDB.Close()
	}
	errs = append(errs, err)
	return errors.Join(errs...)
}

// redact keeps a password in the URL out of error messages (and so out of
// logs). The driver's error stays in the chain, for Unavailable.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return &redactedError{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Now is the clock for stored timestamps: UTC, microseconds (PostgreSQL's precision).
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Dialect reports the database kind behind db.
func Dialect(db *gorm.DB) string { return db.Dialector.Name() }

// Migrator runs goose over the embedded migrations of db's dialect.
type Migrator struct {
	p *goose.Provider
}

// NewMigrator builds a goose provider for db. migrations is the embedded
// tree holding sqlite/ and postgres/.
func NewMigrator(db *gorm.DB, migrations fs.FS) (*Migrator, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("database handle: %w", err)
	}
	dialect := Dialect(db)
	sub, err := fs.Sub(migrations, "migrations/"+dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	gdialect := goose.DialectSQLite3
	if dialect == Postgres {
		gdialect = goose.DialectPostgres
		// Two instances starting at once must not both migrate.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gdialect, sqlDB, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{p: p}, nil
}

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	res, err := m.p.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate up: %w", err)
	}
	return res, nil
}

// Down rolls back the latest migration.
func (m *Migrator) Down(ctx context.Context) (*goose.MigrationResult, error) {
	res, err := m.p.Down(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate down: %w", err)
	}
	return res, nil
}

// Status lists every migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	st, err := m.p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return st, nil
}

// Pending reports how many migrations are not applied yet. The common
// answer (none) is found without goose's session lock, so readiness checks
// are never blocked by another instance's migration.
func (m *Migrator) Pending(ctx context.Context) (int, error) {
	has, err := m.p.HasPending(ctx)
	if err != nil {
		return 0, fmt.Errorf("migration status: %w", err)
	}
	if !has {
		return 0, nil
	}
	st, err := m.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if s.State == goose.StatePending {
			n++
		}
	}
	return n, nil
}

type gormLogger struct {
	log *slog.Logger
}

// newGormLogger routes GORM's warnings to slog; SQL text is logged only at
// debug level, since it may hold user data.
func newGormLogger(l *slog.Logger) logger.Interface {
	if l == nil {
		return logger.Discard
	}
	return &gormLogger{log: l}
}

func (g *gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }
func (g *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	g.log.DebugContext(ctx, fmt.Sprintf(msg, args...))
}
func (g *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	g.log.WarnContext(ctx, fmt.Sprintf(msg, args...))
}
func (g *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	g.log.ErrorContext(ctx, fmt.Sprintf(msg, args...))
}
func (g *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if !g.log.Enabled(ctx, slog.LevelDebug) {
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled) {
			g.log.WarnContext(ctx, "database error", "err", err, "elapsed_ms", time.Since(begin).Milliseconds())
		}
		return
	}
	sql, rows := fc()
	g.log.DebugContext(ctx, "sql", "sql", sql, "rows", rows, "elapsed_ms", time.Since(begin).Milliseconds(), "err", err)
}
