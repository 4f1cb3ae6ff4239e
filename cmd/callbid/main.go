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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/callbid/callbid"
	"github.com/rs/zerolog"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		configPath  = flag.String("config", "", "config file (default: $CALLBID_CONFIG, else the embedded configs/callbid.yaml demo)")
		checkConfig = flag.String("check-config", "", "validate this config file, print every problem with its field path, and exit")
		stopWithin  = flag.Duration("shutdown-timeout", 10*time.Second, "how long shutdown may take before callbid exits anyway")
	)
	flag.Parse()

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
	log := newLogger(cfg.Log.Level)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app, err := start(ctx, cfg, log)
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

func newLogger(level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Millisecond // "took":53.3 reads as ms
	zerolog.DurationFieldInteger = false
	return zerolog.New(os.Stdout).Level(lvl).With().Timestamp().Str("service", "callbid").Logger()
}
