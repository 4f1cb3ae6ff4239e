// Command ccbridge maps a contact center's native event streams (Amazon
// Connect, Twilio, Genesys Cloud) to callbid's cc.agent-state.v1,
// cc.call.v1 and cc.outcome.v1 topics (package ccbridge).
//
//	ccbridge -config configs/ccbridge.yaml                  # webhooks only
//	aws kinesis get-records … | jq -c '.Records[]' | ccbridge -config c.yaml -input -
//	ccbridge -config c.yaml -input agent-events.ndjson      # replay a file, then keep serving webhooks
//	ccbridge -check-config c.yaml
//
// Wiring only: configuration, the Kafka producer, the webhook listener, the
// NDJSON reader, the heartbeat ticker and shutdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/callbid/callbid/ccbridge"
	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/httpapi/bridge"
	"github.com/callbid/callbid/kafkaio"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ccbridge:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ccbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("CCBRIDGE_CONFIG"), "YAML config file (see configs/ccbridge.yaml)")
	check := fs.String("check-config", "", "validate this config file and exit")
	input := fs.String("input", "", `newline-delimited JSON to map: a file, or "-" for stdin`)
	exitAfterInput := fs.Bool("exit-after-input", false, "stop once -input is read (replays); default keeps serving webhooks")
	shutdown := fs.Duration("shutdown-timeout", 10*time.Second, "time to flush Kafka on exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *check != "" {
		if _, err := ccbridge.Load(*check, os.Getenv); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", *check)
		return nil
	}
	cfg, err := ccbridge.Load(*configPath, os.Getenv)
	if err != nil {
		return err
	}
	log := zerolog.New(stdout).With().Timestamp().Str("service", "ccbridge").Logger()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	kcfg := cfg.Kafka
	if len(kcfg.Brokers) == 0 && kcfg.Embedded.Enabled {
		emb, err := embedbroker.Start(kcfg.Embedded, []string{events.TopicAgentState, events.TopicCall, events.TopicOutcome}, log)
		if err != nil {
			return err
		}
		defer emb.Close()
		kcfg.UseEmbedded(emb)
	}
	prod := kafkaio.NewProducer(kcfg, log)
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), *shutdown)
		defer cancel()
		if err := prod.Close(fctx); err != nil {
			log.Error().Err(err).Msg("kafka producer did not flush everything")
		}
	}()
	br, err := ccbridge.New(*cfg, prod, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(br.RegisterMetrics(reg), prod.RegisterMetrics(reg)); err != nil {
		return err
	}

	errc := make(chan error, 2)
	var srvClose func() error
	if cfg.Webhook.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Webhook.Listen)
		if err != nil {
			return fmt.Errorf("cannot listen on webhook.listen %s: %w", cfg.Webhook.Listen, err)
		}
		srv := bridge.Webhook(br)
		srvClose = srv.Shutdown
		go func() { errc <- srv.Serve(ln) }()
		log.Info().Str("addr", ln.Addr().String()).Msg("webhook listener up")
	}
	if cfg.AdminListen != "" && cfg.AdminListen != "off" {
		ln, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			return fmt.Errorf("cannot listen on admin_listen %s: %w", cfg.AdminListen, err)
		}
		admin := bridge.Admin(reg)
		defer func() { _ = admin.Shutdown() }()
		go func() { errc <- admin.Serve(ln) }()
		log.Info().Str("addr", ln.Addr().String()).Msg("admin listener up: /healthz /metrics")
	}
	inputDone := make(chan error, 1)
	if *input != "" {
		r, name := stdin, "stdin"
		if *input != "-" {
			f, err := os.Open(*input)
			if err != nil {
				return fmt.Errorf("cannot open -input: %w", err)
			}
			defer f.Close()
			r, name = f, *input
		}
		go func() { inputDone <- br.ReadNDJSON(ctx, r, name) }()
	}

	tick := time.NewTicker(max(cfg.HeartbeatInterval/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return finish(srvClose, br, log, nil)
		case err := <-errc:
			return finish(srvClose, br, log, fmt.Errorf("webhook listener stopped: %w", err))
		case err := <-inputDone:
			if err != nil {
				return finish(srvClose, br, log, err)
			}
			log.Info().Str("input", *input).Msg("input read to the end")
			if *exitAfterInput || cfg.Webhook.Listen == "" {
				return finish(srvClose, br, log, nil)
			}
		case <-tick.C:
			br.Heartbeat()
		}
	}
}

func finish(srvClose func() error, br *ccbridge.Bridge, log zerolog.Logger, err error) error {
	if srvClose != nil {
		_ = srvClose()
	}
	s := br.Stats()
	log.Info().Uint64("in", s.In).Uint64("bad", s.Bad).Uint64("stale", s.Stale).Uint64("agent_records", s.AgentRecords).
		Uint64("call_records", s.CallRecords).Uint64("outcome_records", s.OutcomeRecords).Uint64("dropped", s.Dropped).
		Msg("ccbridge stopping")
	return err
}
