// Command tienda is the Tienda back office: one binary that serves the admin
// panel and the REST API, migrates the database, creates users and seeds
// demo data. See README.md for the commands and the configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"tienda/app/api"
	"tienda/app/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// env is what a command may touch of the outside world; tests fill it in.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// ready, when set, is told the address serve listens on.
	ready func(addr string)
}

const usage = `usage: tienda <command> [flags]

commands:
  serve [--migrate]                      run the web server on :$PORT
  migrate up|down|status|redo            manage the database schema
  createsuperuser --username U --email E [--staff]
                                         create a user (password from TIENDA_SUPERUSER_PASSWORD or a prompt)
  seed [--products N] [--documents N]    add demo data (idempotent)
  openapi                                print the OpenAPI 3.1 document (as /api/v1/openapi.json)
  version                                print the version
`

// errUsage marks errors whose fix is reading the usage text.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, rest, e)
	case "migrate":
		err = cmdMigrate(ctx, rest, e)
	case "createsuperuser":
		err = cmdCreateSuperuser(ctx, rest, e)
	case "seed":
		err = cmdSeed(ctx, rest, e)
	case "openapi":
		var doc []byte
		if doc, err = api.BuildOpenAPI(); err == nil {
			_, err = fmt.Fprintf(e.stdout, "%s\n", doc)
		}
	case "version", "--version", "-v":
		fmt.Fprintf(e.stdout, "tienda %s\n", version)
	case "help", "--help", "-h":
		fmt.Fprint(e.stdout, usage)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "tienda: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(e.stderr, "tienda: %v\n", err)
		return 1
	}
}

// loadConfig reads .env (outside production) and the environment.
func loadConfig(e env) (config.Config, error) {
	getenv := e.getenv
	if getenv("APP_ENV") != "production" {
		vals, err := config.ReadDotEnv(".env")
		if err != nil {
			return config.Config{}, err
		}
		getenv = func(k string) string {
			if v := e.getenv(k); v != "" {
				return v
			}
			return vals[k]
		}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, err
	}
	if err := cfg.EnsureDevSecret(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h)
}

func newFlags(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("tienda "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
