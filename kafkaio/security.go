package kafkaio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/aws_msk_iam_v2"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASL mechanisms (kafka.sasl.mechanism, CALLBID_KAFKA_SASL_MECHANISM).
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	MechanismAWSMSKIAM   = "AWS_MSK_IAM"
)

// Environment variables for the Kafka connection's security, read by
// Config.ApplyEnv (callbid and agentsim both call it).
const (
	EnvKafkaTLS           = "CALLBID_KAFKA_TLS"
	EnvKafkaTLSCAFile     = "CALLBID_KAFKA_TLS_CA_FILE"
	EnvKafkaSASLMechanism = "CALLBID_KAFKA_SASL_MECHANISM"
	EnvKafkaSASLUsername  = "CALLBID_KAFKA_SASL_USERNAME"
	EnvKafkaSASLPassword  = "CALLBID_KAFKA_SASL_PASSWORD"
)

// TLSConfig is kafka.tls: encrypt the connections to the brokers and check
// their certificates.
type TLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates;
	// empty means the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// clusters that authenticate clients by certificate (mTLS); both or
	// neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked in the brokers' certificates; empty
	// means each broker's host name.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns certificate checks off. Only for a test
	// cluster: anyone on the path can then read and change the traffic.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASLConfig is kafka.sasl: how callbid authenticates to the brokers.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM;
	// empty means no SASL.
	Mechanism string `yaml:"mechanism"`
	// Username and Password for PLAIN and SCRAM (prefer
	// CALLBID_KAFKA_SASL_PASSWORD to keep the password out of the file).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// AWSRegion for AWS_MSK_IAM; empty means the AWS SDK's default (AWS_REGION
	// or the shared config). Credentials come from the AWS SDK's default chain
	// (environment, shared files, ECS/EKS task role, EC2 instance role).
	AWSRegion string `yaml:"aws_region"`
}

// ApplyEnv applies the CALLBID_KAFKA_TLS* and CALLBID_KAFKA_SASL_* variables
// over the file's settings and returns one note per variable applied (never
// the secret itself).
func (c *Config) ApplyEnv(getenv func(string) string) (notes []string, err error) {
	if v := getenv(EnvKafkaTLS); v != "" {
		on, perr := strconv.ParseBool(v)
		if perr != nil {
			return nil, fmt.Errorf("%s: %q is not true or false", EnvKafkaTLS, v)
		}
		c.TLS.Enabled = on
		notes = append(notes, EnvKafkaTLS+" overrides kafka.tls.enabled")
	}
	set := func(env, path string, dst *string) {
		if v := getenv(env); v != "" {
			*dst = v
			notes = append(notes, env+" overrides kafka."+path)
		}
	}
	set(EnvKafkaTLSCAFile, "tls.ca_file", &c.TLS.CAFile)
	set(EnvKafkaSASLMechanism, "sasl.mechanism", &c.SASL.Mechanism)
	set(EnvKafkaSASLUsername, "sasl.username", &c.SASL.Username)
	set(EnvKafkaSASLPassword, "sasl.password", &c.SASL.Password)
	return notes, nil
}

// mechanism is the canonical (upper-case) name, or "" when unknown.
func (c *SASLConfig) mechanism() string {
	switch m := strings.ToUpper(strings.TrimSpace(c.Mechanism)); m {
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512, MechanismAWSMSKIAM:
		return m
	}
	return ""
}

// validateSecurity reports the tls and sasl sections' problems with their
// field paths relative to "kafka". Files are read, so a missing CA file is a
// config error at start rather than a connection that never comes up.
func (c *Config) validateSecurity() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	t := &c.TLS
	if !t.Enabled {
		for _, f := range []struct{ path, v string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"server_name", t.ServerName}} {
			if f.v != "" {
				add("tls.%s: set while tls.enabled is false (set kafka.tls.enabled or %s=true)", f.path, EnvKafkaTLS)
			}
		}
		if t.InsecureSkipVerify {
			add("tls.insecure_skip_verify: set while tls.enabled is false")
		}
	} else {
		if (t.CertFile == "") != (t.KeyFile == "") {
			add("tls.cert_file: cert_file and key_file go together (one is empty)")
		}
		if t.InsecureSkipVerify && t.CAFile != "" {
			add("tls.insecure_skip_verify: set together with tls.ca_file; the CA would not be checked")
		}
		if _, err := t.build(); err != nil {
			errs = append(errs, err)
		}
	}
	s := &c.SASL
	switch m := s.mechanism(); {
	case s.Mechanism == "":
		if s.Username != "" || s.Password != "" || s.AWSRegion != "" {
			add("sasl.mechanism: empty, but sasl credentials are set; choose PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM")
		}
	case m == "":
		add("sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM", s.Mechanism)
	case m == MechanismAWSMSKIAM:
		if s.Username != "" || s.Password != "" {
			add("sasl.username: AWS_MSK_IAM takes no username or password; credentials come from the AWS default chain")
		}
		if !t.Enabled {
			add("tls.enabled: AWS_MSK_IAM needs TLS (MSK's IAM listener is TLS only)")
		}
		if _, err := s.build(); err != nil { // the region, from the file or the AWS configuration
			errs = append(errs, err)
		}
	default:
		if s.Username == "" {
			add("sasl.username: required with %s (or %s)", m, EnvKafkaSASLUsername)
		}
		if s.Password == "" {
			add("sasl.password: required with %s (or %s)", m, EnvKafkaSASLPassword)
		}
	}
	return errs
}

// build makes the tls.Config; errors name the field.
func (t *TLSConfig) build() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // only when the operator says so
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: cannot read: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: %q holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" && t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: cannot load the client certificate and key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// build makes the SASL mechanism (nil for none).
func (s *SASLConfig) build() (sasl.Mechanism, error) {
	switch s.mechanism() {
	case MechanismPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case MechanismSCRAMSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	case MechanismAWSMSKIAM:
		return awsMechanism(s.AWSRegion)
	case "":
		if s.Mechanism == "" {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM", s.Mechanism)
}

// awsMechanisms shares one AWS_MSK_IAM mechanism (and so one credentials
// cache) per region among the process's transports.
var awsMechanisms struct {
	sync.Mutex
	byRegion map[string]sasl.Mechanism
}

func awsMechanism(region string) (sasl.Mechanism, error) {
	awsMechanisms.Lock()
	defer awsMechanisms.Unlock()
	if m := awsMechanisms.byRegion[region]; m != nil {
		return m, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	// Loads settings only; credentials are fetched (and refreshed) when a
	// connection authenticates.
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("sasl.mechanism: AWS_MSK_IAM: cannot load the AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("sasl.aws_region: AWS_MSK_IAM needs a region: set kafka.sasl.aws_region or AWS_REGION")
	}
	m := aws_msk_iam_v2.NewMechanism(ac)
	if awsMechanisms.byRegion == nil {
		awsMechanisms.byRegion = map[string]sasl.Mechanism{}
	}
	awsMechanisms.byRegion[region] = m
	return m, nil
}

// applySecurity sets the transport's TLS and SASL. When they cannot be built
// (a file vanished since validation) every dial fails with that error, so
// CheckBrokers reports it as a SecurityError instead of callbid running
// unencrypted or unauthenticated.
func applySecurity(tr *kafka.Transport, cfg *Config) {
	tc, err := cfg.TLS.build()
	if err == nil {
		tr.TLS = tc
		tr.SASL, err = cfg.SASL.build()
	}
	if err != nil {
		err = &SecurityError{What: "kafka connection settings", Err: err}
		tr.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, err }
	}
}

// saslProbe wraps a mechanism to tell "the broker hung up in the middle of
// authentication" from "the broker is down". Brokers answer a wrong password
// with SASL_AUTHENTICATION_FAILED and close, but some (kfake among them) only
// close, which kafka-go reports as an unexpected EOF.
type saslProbe struct {
	sasl.Mechanism
	started, completed atomic.Int64
}

func (p *saslProbe) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	sm, ir, err := p.Mechanism.Start(ctx)
	if err != nil {
		return nil, nil, err
	}
	p.started.Add(1)
	return probeState{sm, p}, ir, nil
}

type probeState struct {
	sasl.StateMachine
	p *saslProbe
}

func (s probeState) Next(ctx context.Context, challenge []byte) (bool, []byte, error) {
	done, resp, err := s.StateMachine.Next(ctx, challenge)
	if done && err == nil {
		s.p.completed.Add(1)
	}
	return done, resp, err
}

// refused turns a connection closed during an authentication that never
// completed into kafka.SASLAuthenticationFailed; p may be nil (no SASL).
func (p *saslProbe) refused(err error) error {
	if p == nil || err == nil || p.started.Load() == 0 || p.completed.Load() > 0 {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("%w (the broker closed the connection during authentication: %w)", kafka.SASLAuthenticationFailed, err)
	}
	return err
}

// SecurityError is a failure retrying will not fix: the brokers refused
// callbid's credentials (SASL) or their certificate is not trusted (TLS), or
// the settings for either cannot be built. CheckBrokers returns it at once.
type SecurityError struct {
	// What failed, e.g. `SASL SCRAM-SHA-256 authentication as "callbid"`.
	What string
	Err  error
}

func (e *SecurityError) Error() string { return e.What + " failed: " + e.Err.Error() }
func (e *SecurityError) Unwrap() error { return e.Err }

// classifySecurity turns an error of a request into a *SecurityError when
// it is one; other errors (broker down, timeouts) come back unchanged.
func classifySecurity(cfg *Config, err error) error {
	if err == nil {
		return nil
	}
	var se *SecurityError
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, kafka.SASLAuthenticationFailed) || errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, kafka.IllegalSASLState) {
		what := "SASL " + cfg.SASL.mechanism() + " authentication"
		if cfg.SASL.Username != "" {
			what += fmt.Sprintf(" as %q", cfg.SASL.Username)
		}
		if cfg.SASL.Mechanism == "" {
			what = "SASL authentication (kafka.sasl.mechanism is not set)"
		}
		return &SecurityError{What: what, Err: err}
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		record    tls.RecordHeaderError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &alert) {
		return &SecurityError{What: "TLS handshake with the kafka brokers", Err: err}
	}
	if errors.As(err, &record) {
		return &SecurityError{What: "TLS handshake with the kafka brokers (is this a plaintext listener?)", Err: err}
	}
	return err
}
