// Command callbid runs the bidder. It only wires: load and validate the
// config, build the parts bottom-up, start listeners and feeds, and stop them
// in reverse order on SIGTERM/SIGINT within a deadline. SIGHUP and changes to
// the config file reload it without dropping traffic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/callbid/callbid"
	"github.com/rs/zerolog"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("callbid", flag.ContinueOnError)
	var (
		configPath  = fs.String("config", "", "config file (default: $CALLBID_CONFIG, else the embedded configs/callbid.yaml demo)")
		checkConfig = fs.String("check-config", "", "validate this config file, print every problem with its field path, and exit")
		stopWithin  = fs.Duration("shutdown-timeout", 10*time.Second, "how long shutdown may take before callbid exits anyway")
		showVersion = fs.Bool("version", false, "print the version and exit")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: callbid [-config FILE] [-shutdown-timeout D] | -check-config FILE | -version\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // flag already printed the error and the usage
	}
	// A positional argument is a mistake (`callbid version` used to start a
	// second server): refuse it rather than guess.
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "callbid: unexpected argument %q (flags start with -)\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	id := identity()
	if *showVersion {
		fmt.Println(id)
		return 0
	}

	if *checkConfig != "" {
		if _, err := callbid.Load(*checkConfig, os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: ok\n", *checkConfig)
		return 0
	}

	path := *configPath
	if path == "" {
		path = os.Getenv(callbid.EnvConfig)
	}
	cfg, err := callbid.Load(path, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, os.Stdout)
	log.Info().Str("version", id.Version).Str("revision", id.Revision).Bool("modified", id.Modified).
		Str("go", id.GoVersion).Int("pid", os.Getpid()).Msg("callbid starting")

	// The embedded broker's log must have one writer: a second process in the
	// same directory would corrupt it. The lock is released when the process
	// exits, however it exits.
	if cfg.Kafka.Embedded.Enabled && len(cfg.Kafka.Brokers) == 0 && cfg.Kafka.Embedded.DataDir != "" {
		release, err := lockDataDir(cfg.Kafka.Embedded.DataDir)
		if err != nil {
			log.Error().Err(err).Msg("callbid did not start")
			return 1
		}
		defer release()
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app, err := start(ctx, cfg, log, id)
	if err != nil {
		log.Error().Err(err).Msg("callbid did not start")
		return 1
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if path != "" {
		if err := callbid.Watch(ctx, path, 300*time.Millisecond, func() { app.reload(path) }, log); err != nil {
			log.Warn().Err(err).Str("file", path).Msg("cannot watch the config file; reload with SIGHUP")
		}
	}
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			if path == "" {
				log.Warn().Msg("SIGHUP: running on the embedded default config; nothing to reload")
				continue
			}
			app.reload(path)
			continue
		}
		log.Info().Str("signal", sig.String()).Msg("stopping")
		break
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), *stopWithin)
	defer stopCancel()
	err = app.stop(stopCtx, cancel)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Error().Dur("timeout", *stopWithin).Msg("shutdown did not finish in time")
		return 1
	}
	return 0
}

// newLogger builds the process logger: JSON lines for collectors by default,
// zerolog's ConsoleWriter (aligned, coloured when stdout is a terminal) with
// log.format: console.
func newLogger(c callbid.LogConfig, stdout *os.File) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Millisecond // "took":53.3 reads as ms
	zerolog.DurationFieldInteger = false
	var out io.Writer = stdout
	if c.Format == "console" {
		out = zerolog.ConsoleWriter{Out: stdout, TimeFormat: "15:04:05.000", NoColor: !isTerminal(stdout)}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Str("service", "callbid").Logger()
}

// isTerminal reports whether f is a character device (a terminal), so
// colours are not written into files and pipes.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
