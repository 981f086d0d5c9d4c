package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"gorm.io/gorm"

	"tienda"
	"tienda/app"
	"tienda/app/config"
	"tienda/models"
)

// firstRunProducts is how many demo products a fresh development database gets.
const firstRunProducts = 50

// openDB opens the configured database and its migrator; lazy opens the
// pool without connecting (serve, which may start before the database).
func openDB(ctx context.Context, cfg config.Config, log *slog.Logger, lazy ...bool) (*gorm.DB, *models.Migrator, func(), error) {
	db, err := models.Open(ctx, models.DBConfig{URL: cfg.DatabaseURL, MaxOpenConns: cfg.DBMaxOpenConns, Logger: log,
		Lazy: len(lazy) > 0 && lazy[0]})
	if err != nil {
		return nil, nil, nil, err
	}
	closeDB := func() {
		_ = models.Close(db)
	}
	mig, err := models.NewMigrator(db, tienda.Migrations)
	if err != nil {
		closeDB()
		return nil, nil, nil, err
	}
	return db, mig, closeDB, nil
}

// dbWait is how long serve waits for the database at start before it
// serves anyway (with /ready at 503), and how often it tries again then.
const (
	dbWait  = 5 * time.Second
	dbRetry = 2 * time.Second
)

func cmdServe(ctx context.Context, args []string, e env) error {
	fs := newFlags("serve", e)
	migrate := fs.Bool("migrate", false, "apply pending migrations before serving (always done on SQLite and in development)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	log := newLogger(cfg, e.stderr)
	db, mig, closeDB, err := openDB(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer closeDB()

	autoMigrate := *migrate || !cfg.Production() || models.Dialect(db) == models.SQLite
	pctx, cancel := context.WithTimeout(ctx, dbWait)
	err = ping(pctx, db)
	cancel()
	up := err == nil
	switch {
	case up:
		if err := migrateOrRefuse(ctx, mig, autoMigrate, log); err != nil {
			return err
		}
	case models.Dialect(db) == models.Postgres && models.Unavailable(err):
		// Start anyway: /ready answers 503 until the database answers and
		// its migrations are applied, and every request that needs it 503.
		log.Warn("database unreachable; serving with /ready at 503 until it answers", "err", err)
		go waitForDatabase(ctx, db, mig, autoMigrate, log)
	default:
		return fmt.Errorf("connect to %s database: %w", models.Dialect(db), err)
	}

	srv, err := app.New(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	login := ""
	if up {
		if login, err = firstRun(ctx, cfg, srv.Store(), log); err != nil {
			srv.Close()
			return err
		}
	}
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on port %s: %w", cfg.Port, err)
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		_ = ln.Close()
		srv.Close()
		return fmt.Errorf("listen on port %s: not a TCP address", cfg.Port)
	}
	url := fmt.Sprintf("http://localhost:%d/admin/", addr.Port)
	log.Info("listening", "addr", addr.String(), "admin", url, "env", cfg.Env, "database", models.Dialect(db))
	if !cfg.Production() {
		fmt.Fprintf(e.stdout, "\nTienda is running: open %s\n%s\nStop with Ctrl+C.\n\n", url, login)
	}
	if e.ready != nil {
		e.ready(addr.String())
	}
	return srv.Serve(ctx, ln)
}

// ping checks that the database answers.
func ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	return sqlDB.PingContext(ctx)
}

// migrateOrRefuse applies pending migrations when serve may (SQLite,
// development, --migrate), and otherwise refuses to start, saying how.
func migrateOrRefuse(ctx context.Context, mig *models.Migrator, auto bool, log *slog.Logger) error {
	pending, err := mig.Pending(ctx)
	if err != nil {
		return err
	}
	switch {
	case pending > 0 && auto:
		res, err := mig.Up(ctx)
		if err != nil {
			return err
		}
		log.Info("migrations applied", "count", len(res))
	case pending > 0:
		return fmt.Errorf("%d database migration(s) pending: run `tienda migrate up` (the Procfile's release phase does) or start with `tienda serve --migrate`", pending)
	}
	return nil
}

// waitForDatabase retries until the database answers, then migrates it
// when serve may; a server that started before its database must not
// exit once it is up, so pending migrations it may not apply are logged
// (and /ready says so) instead.
func waitForDatabase(ctx context.Context, db *gorm.DB, mig *models.Migrator, auto bool, log *slog.Logger) {
	t := time.NewTicker(dbRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, dbWait)
		err := ping(pctx, db)
		if err == nil {
			err = migrateOrRefuse(pctx, mig, auto, log)
			cancel()
			if err != nil {
				log.Error("database reachable but not ready", "err", err)
			} else {
				log.Info("database reachable")
			}
			return
		}
		cancel()
	}
}

// firstRun gives an empty development database an administrator and demo
// data, so `make run` ends at a login page one can use. It returns the
// line telling how to log in.
func firstRun(ctx context.Context, cfg config.Config, store *models.Store, log *slog.Logger) (string, error) {
	if cfg.Production() {
		return "", nil
	}
	n, err := store.CountUsers(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "Log in with your staff account (new one: bin/tienda createsuperuser --username NAME --email EMAIL).", nil
	}
	pw := models.RandomPassword()
	u := &models.User{Username: "admin", Email: "admin@example.com", IsActive: true, IsStaff: true, IsSuperuser: true}
	if err := u.SetPassword(ctx, pw); err != nil {
		return "", err
	}
	sctx := models.WithActor(ctx, models.Actor{Username: "setup", Source: models.SourceSystem})
	if err := store.Create(sctx, u); err != nil {
		return "", fmt.Errorf("create first administrator: %w", err)
	}
	res, err := store.Seed(sctx, firstRunProducts, models.DemoDocumentCount())
	if err != nil {
		return "", err
	}
	log.Info("first run: administrator created and demo data added", "username", u.Username,
		"products", res.Products, "documents", res.Documents)
	// The password goes to the terminal only, never to the log.
	return fmt.Sprintf("First run: log in as %q with password %q (shown once; change it at /admin/account).", u.Username, pw), nil
}

func cmdMigrate(ctx context.Context, args []string, e env) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: migrate needs one of up, down, status, redo", errUsage)
	}
	action := args[0]
	switch action {
	case "up", "down", "status", "redo":
	default:
		return fmt.Errorf("%w: migrate needs one of up, down, status, redo, not %q", errUsage, action)
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	log := newLogger(cfg, e.stderr)
	_, mig, closeDB, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	switch action {
	case "up":
		res, err := mig.Up(ctx)
		if err != nil {
			return err
		}
		for _, r := range res {
			fmt.Fprintf(e.stdout, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(1e6))
		}
		if len(res) == 0 {
			fmt.Fprintln(e.stdout, "no pending migrations")
		}
	case "down":
		r, err := mig.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rolled back %s\n", r.Source.Path)
	case "redo":
		r, err := mig.Down(ctx)
		if err != nil {
			return err
		}
		if _, err := mig.Up(ctx); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "redone %s\n", r.Source.Path)
	case "status":
		st, err := mig.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range st {
			at := "-"
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, at, s.Source.Path)
		}
		return tw.Flush()
	}
	return nil
}

func cmdCreateSuperuser(ctx context.Context, args []string, e env) error {
	fs := newFlags("createsuperuser", e)
	username := fs.String("username", "", "login name (required)")
	email := fs.String("email", "", "email address (required)")
	staff := fs.Bool("staff", false, "create a staff user (in the Staff group) instead of a superuser")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*username) == "" || strings.TrimSpace(*email) == "" {
		return fmt.Errorf("%w: createsuperuser needs --username and --email", errUsage)
	}
	db, closeDB, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer closeDB()
	pw := e.getenv("TIENDA_SUPERUSER_PASSWORD")
	if pw == "" {
		if pw, err = promptPassword(e); err != nil {
			return err
		}
	}
	u := &models.User{Username: strings.TrimSpace(*username), Email: strings.TrimSpace(*email),
		IsActive: true, IsStaff: true, IsSuperuser: !*staff}
	if err := u.SetPassword(ctx, pw); err != nil {
		return describe(err)
	}
	store := models.NewStore(db)
	if *staff {
		// A staff user gets today's staff rights: the Staff group's.
		g, err := store.GroupByName(ctx, models.StaffGroup)
		if err != nil {
			return fmt.Errorf("the %s group: %w", models.StaffGroup, err)
		}
		u.Groups = []int64{g.ID}
	}
	sctx := models.WithActor(ctx, models.Actor{Username: "createsuperuser", Source: models.SourceSystem})
	if err := store.Create(sctx, u); err != nil {
		return describe(err)
	}
	kind := "superuser"
	if *staff {
		kind = "staff user"
	}
	fmt.Fprintf(e.stdout, "%s %q created\n", kind, u.Username)
	return nil
}

// promptPassword asks twice on a terminal; elsewhere it fails clearly.
func promptPassword(e env) (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no password: set TIENDA_SUPERUSER_PASSWORD or run in a terminal to be prompted")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	pw, err := read("Password: ")
	if err != nil {
		return "", err
	}
	again, err := read("Password (again): ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

// describe turns domain errors into one line a person can act on.
func describe(err error) error {
	var ve *models.ValidationError
	var ce *models.ConflictError
	switch {
	case errors.As(err, &ve):
		parts := make([]string, 0, len(ve.Fields))
		for k, v := range ve.Fields {
			parts = append(parts, k+" "+v)
		}
		return errors.New(strings.Join(parts, "; "))
	case errors.As(err, &ce):
		return fmt.Errorf("%s %s", ce.Field, ce.Message)
	}
	return err
}

// openMigrated opens the configured database for a command that needs
// its schema up to date (createsuperuser, seed).
func openMigrated(ctx context.Context, e env) (*gorm.DB, func(), error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, nil, err
	}
	db, mig, closeDB, err := openDB(ctx, cfg, newLogger(cfg, e.stderr))
	if err != nil {
		return nil, nil, err
	}
	n, err := mig.Pending(ctx)
	if err == nil && n > 0 {
		err = fmt.Errorf("%d database migration(s) pending: run `tienda migrate up` first", n)
	}
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	return db, closeDB, nil
}

func cmdSeed(ctx context.Context, args []string, e env) error {
	fs := newFlags("seed", e)
	products := fs.Int("products", firstRunProducts, "demo products to ensure (ids 1..N)")
	documents := fs.Int("documents", models.DemoDocumentCount(), "demo documents to ensure")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *products < 0 || *documents < 0 {
		return fmt.Errorf("%w: --products and --documents must be 0 or more", errUsage)
	}
	db, closeDB, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer closeDB()
	res, err := models.NewStore(db).Seed(ctx, *products, *documents)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d products and %d documents (existing rows left alone)\n", res.Products, res.Documents)
	return nil
}
