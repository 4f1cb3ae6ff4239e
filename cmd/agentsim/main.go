// Command agentsim streams a SIMULATED contact center (package ccsim) into
// Kafka: agent states to cc.agent-state.v1 and calls to cc.call.v1, for
// demos and load tests of callbid's capacity model.
//
//	agentsim -brokers kafka-1:9092,kafka-2:9092 -duration 10m
//	agentsim -embedded -speed 10            # own in-process broker, for a look
//	agentsim -brokers localhost:9092 -config configs/callbid.yaml -scale 100 -rate 100
//	CALLBID_KAFKA_SASL_PASSWORD=… agentsim -brokers b-1.msk:9096 -tls -sasl-mechanism SCRAM-SHA-512 -sasl-username sim
//
// Kafka security comes from the config file's kafka: section, then the
// CALLBID_KAFKA_TLS* and CALLBID_KAFKA_SASL_* variables (as for callbid),
// then the -tls* and -sasl-* flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/callbid/callbid/ccsim"
	"github.com/callbid/callbid/embedbroker"
	"github.com/callbid/callbid/events"
	"github.com/callbid/callbid/kafkaio"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agentsim:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

type options struct {
	brokers  string
	embedded bool
	config   string
	duration time.Duration
	speed    float64
	rate     float64
	scale    float64
	seed     uint64
	timeout  time.Duration

	tls                                        bool
	tlsCAFile, tlsCertFile, tlsKeyFile, tlsSNI string
	saslMechanism, saslUsername, saslPassword  string
	getenv                                     func(string) string
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agentsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.brokers, "brokers", "", "comma-separated Kafka bootstrap brokers host:port (required unless -embedded)")
	fs.BoolVar(&o.embedded, "embedded", false, "start an in-process Kafka-protocol broker (kfake) and stream into it")
	fs.StringVar(&o.config, "config", "", "YAML file with a simulator: section (and optionally kafka: client settings); default: the built-in demo of mortgage, auto_insurance and legal")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.Float64Var(&o.speed, "speed", 0, "simulated seconds per real second (overrides simulator.speed; default 1)")
	fs.Float64Var(&o.rate, "rate", 1, "multiply every skill's arrival_per_min by this")
	fs.Float64Var(&o.scale, "scale", 1, "multiply every skill's agent count by this (for load tests)")
	fs.Uint64Var(&o.seed, "seed", 0, "random seed (overrides simulator.seed)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up when no broker answers within this long")
	fs.BoolVar(&o.tls, "tls", false, "connect with TLS (kafka.tls.enabled, "+kafkaio.EnvKafkaTLS+")")
	fs.StringVar(&o.tlsCAFile, "tls-ca-file", "", "PEM CA bundle of the brokers' certificates; default the system roots ("+kafkaio.EnvKafkaTLSCAFile+")")
	fs.StringVar(&o.tlsCertFile, "tls-cert-file", "", "PEM client certificate (mTLS), with -tls-key-file")
	fs.StringVar(&o.tlsKeyFile, "tls-key-file", "", "PEM key of -tls-cert-file")
	fs.StringVar(&o.tlsSNI, "tls-server-name", "", "name checked in the brokers' certificates; default each broker's host")
	fs.StringVar(&o.saslMechanism, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM ("+kafkaio.EnvKafkaSASLMechanism+")")
	fs.StringVar(&o.saslUsername, "sasl-username", "", "SASL user ("+kafkaio.EnvKafkaSASLUsername+")")
	fs.StringVar(&o.saslPassword, "sasl-password", "", "SASL password; prefer "+kafkaio.EnvKafkaSASLPassword+" (flags show in ps)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	o.getenv = os.Getenv
	simCfg, kafkaCfg, err := configure(o)
	if err != nil {
		return err
	}

	log := zerolog.New(stdout).With().Timestamp().Str("cmd", "agentsim").Logger()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.embedded {
		emb, err := embedbroker.Start(kafkaCfg.Embedded, events.AllTopics, log)
		if err != nil {
			return err
		}
		defer emb.Close()
		kafkaCfg.UseEmbedded(emb)
		kafkaCfg.Embedded.Enabled = false
	}
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	err = kafkaio.CheckBrokers(cctx, kafkaCfg)
	cancel()
	var se *kafkaio.SecurityError
	if errors.As(err, &se) {
		return fmt.Errorf("cannot connect to Kafka: %w", err)
	}
	if err != nil {
		return fmt.Errorf("cannot reach Kafka within %s: %w", o.timeout, err)
	}

	prod := kafkaio.NewProducer(kafkaCfg, log)
	if o.duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, o.duration)
		defer c()
	}
	sim, err := ccsim.New(simCfg, time.Now(), log)
	if err != nil {
		return err
	}
	sim.Run(ctx, prod)

	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer fcancel()
	closeErr := prod.Close(fctx)
	ps, st := prod.Stats(), sim.Stats()
	log.Info().Uint64("generated", st.Published+st.Dropped).Uint64("written", ps.Written).
		Uint64("dropped_queue_full", ps.DroppedFull).Uint64("dropped_other", ps.DroppedClosed+ps.DroppedError).
		Msg("simulated contact center stopped")
	if closeErr != nil {
		return fmt.Errorf("cannot flush the last events: %w", closeErr)
	}
	return nil
}

// configure builds the simulator and Kafka settings from the file (if any)
// and the flags, and validates them.
func configure(o options) (ccsim.Config, kafkaio.Config, error) {
	var file struct {
		Simulator *ccsim.Config  `yaml:"simulator"`
		Kafka     kafkaio.Config `yaml:"kafka"`
	}
	if o.config != "" {
		b, err := os.ReadFile(o.config)
		if err != nil {
			return ccsim.Config{}, kafkaio.Config{}, usageError{fmt.Errorf("cannot read -config: %w", err)}
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return ccsim.Config{}, kafkaio.Config{}, usageError{fmt.Errorf("cannot parse %s: %w", o.config, err)}
		}
		if file.Simulator == nil {
			return ccsim.Config{}, kafkaio.Config{}, usageError{fmt.Errorf("%s has no simulator: section", o.config)}
		}
	}
	sim := ccsim.DemoConfig()
	if file.Simulator != nil {
		sim = *file.Simulator
	}
	sim.Enabled = true
	kc := file.Kafka
	var errs []error
	switch {
	case o.brokers != "" && o.embedded:
		errs = append(errs, errors.New("-brokers and -embedded exclude each other"))
	case o.brokers == "" && !o.embedded:
		errs = append(errs, errors.New("-brokers is required (or -embedded for an in-process broker)"))
	}
	if o.getenv != nil {
		if _, err := kc.ApplyEnv(o.getenv); err != nil {
			errs = append(errs, err)
		}
	}
	applySecurityFlags(&kc, o)
	if o.embedded && (kc.TLS != (kafkaio.TLSConfig{}) || kc.SASL != (kafkaio.SASLConfig{})) {
		errs = append(errs, errors.New("-embedded runs a plaintext broker without SASL: drop -tls*/-sasl-* and the CALLBID_KAFKA_TLS*/CALLBID_KAFKA_SASL_* variables"))
	}
	kc.Brokers = nil
	kc.Embedded.Enabled = o.embedded
	for _, b := range strings.Split(o.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			kc.Brokers = append(kc.Brokers, b)
		}
	}
	if o.speed < 0 || o.rate < 0 || o.scale <= 0 {
		errs = append(errs, fmt.Errorf("-speed %g, -rate %g and -scale %g must not be negative (-scale above 0)", o.speed, o.rate, o.scale))
	}
	if o.speed > 0 {
		sim.Speed = o.speed
	}
	if o.seed != 0 {
		sim.Seed = o.seed
	}
	sim.SetDefaults()
	for i := range sim.Skills {
		k := &sim.Skills[i]
		k.ArrivalPerMin *= o.rate
		if k.Agents > 0 { // zero stays an error for Validate to report
			k.Agents = max(1, int(float64(k.Agents)*o.scale+0.5))
		}
	}
	if err := sim.Validate(); err != nil {
		errs = append(errs, prefix("simulator.", err))
	}
	if o.brokers != "" || o.embedded {
		if err := kc.Validate(); err != nil {
			errs = append(errs, prefix("kafka.", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return sim, kc, usageError{err}
	}
	return sim, kc, nil
}

// applySecurityFlags lets the -tls* and -sasl-* flags that were given win
// over the file and the environment.
func applySecurityFlags(kc *kafkaio.Config, o options) {
	if o.tls {
		kc.TLS.Enabled = true
	}
	for _, f := range []struct {
		v   string
		dst *string
	}{
		{o.tlsCAFile, &kc.TLS.CAFile}, {o.tlsCertFile, &kc.TLS.CertFile}, {o.tlsKeyFile, &kc.TLS.KeyFile},
		{o.tlsSNI, &kc.TLS.ServerName}, {o.saslMechanism, &kc.SASL.Mechanism},
		{o.saslUsername, &kc.SASL.Username}, {o.saslPassword, &kc.SASL.Password},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
}

// prefix puts the section name before each field path of a joined error.
func prefix(p string, err error) error {
	var out []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fmt.Errorf("%s%w", p, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s%w", p, err)
}
