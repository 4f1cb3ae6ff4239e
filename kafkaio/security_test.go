package kafkaio

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callbid/callbid/events"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testPKI is a CA and a broker certificate for 127.0.0.1 and kafka.test,
// made fresh for each test.
type testPKI struct {
	caFile string
	server *tls.Config
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callbid test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames: []string{"kafka.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, server: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		MinVersion:   tls.VersionTLS12,
	}}
}

// startSecureBroker is kfake with TLS and SASL on, one user per mechanism.
func startSecureBroker(t *testing.T, pki testPKI) *testBroker {
	t.Helper()
	return startEmbedded(t, EmbeddedConfig{Partitions: 2}, events.AllTopics,
		kfake.EnableSASL(),
		kfake.Superuser(MechanismPlain, "plain-user", "plain-pass"),
		kfake.Superuser(MechanismSCRAMSHA256, "scram256-user", "scram256-pass"),
		kfake.Superuser(MechanismSCRAMSHA512, "scram512-user", "scram512-pass"),
		kfake.TLS(pki.server),
	)
}

func TestSecureConnectionRoundTrip(t *testing.T) {
	pki := newTestPKI(t)
	b := startSecureBroker(t, pki)
	defer b.Close()
	for _, tc := range []struct{ mech, user, pass, serverName string }{
		{MechanismPlain, "plain-user", "plain-pass", ""},
		{MechanismSCRAMSHA256, "scram256-user", "scram256-pass", "kafka.test"},
		{MechanismSCRAMSHA512, "scram512-user", "scram512-pass", ""},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			cfg := testConfig(b.Addr())
			cfg.TLS = TLSConfig{Enabled: true, CAFile: pki.caFile, ServerName: tc.serverName}
			cfg.SASL = SASLConfig{Mechanism: tc.mech, Username: tc.user, Password: tc.pass}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := CheckBrokers(ctx, cfg); err != nil {
				t.Fatalf("CheckBrokers with the right credentials: %v", err)
			}
			topic := "secure." + strings.ToLower(tc.mech)
			if err := EnsureTopics(ctx, cfg, topic); err != nil {
				t.Fatal(err)
			}
			col := newCollector()
			c := runConsumer(t, cfg, topic, col.handle)
			p := NewProducer(cfg, zerolog.Nop())
			publishN(t, p, topic, 0, 50)
			waitFor(t, 10*time.Second, "50 records through TLS+SASL", func() bool { return col.n() == 50 })
			waitFor(t, 5*time.Second, "caught up", c.CaughtUp)
			closeProducer(t, p)
			if st := p.Stats(); st.Written != 50 {
				t.Errorf("producer wrote %d records, want 50", st.Written)
			}
		})
	}
}

func TestSecureConnectionWrongPassword(t *testing.T) {
	pki := newTestPKI(t)
	b := startSecureBroker(t, pki)
	defer b.Close()
	for _, mech := range []string{MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			cfg := testConfig(b.Addr())
			cfg.TLS = TLSConfig{Enabled: true, CAFile: pki.caFile}
			cfg.SASL = SASLConfig{Mechanism: mech, Username: "scram256-user", Password: "wrong"}
			// A generous deadline: CheckBrokers must come back with the
			// security error at once, not retry until the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := CheckBrokers(ctx, cfg)
			var se *SecurityError
			if !errors.As(err, &se) {
				t.Fatalf("CheckBrokers with a wrong password = %v, want a *SecurityError", err)
			}
			if ctx.Err() != nil {
				t.Fatal("CheckBrokers retried until the deadline instead of returning the auth failure")
			}
			msg := err.Error()
			if !strings.Contains(msg, "SASL "+mech+" authentication") || !strings.Contains(msg, `"scram256-user"`) {
				t.Errorf("error does not name the mechanism and user: %s", msg)
			}
			if strings.Contains(msg, "wrong") {
				t.Errorf("error leaks the password: %s", msg)
			}
		})
	}
}

func TestSecureConnectionUntrustedCertificate(t *testing.T) {
	pki := newTestPKI(t)
	b := startSecureBroker(t, pki)
	defer b.Close()
	cfg := testConfig(b.Addr())
	cfg.TLS = TLSConfig{Enabled: true} // system roots do not know the test CA
	cfg.SASL = SASLConfig{Mechanism: MechanismPlain, Username: "plain-user", Password: "plain-pass"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := CheckBrokers(ctx, cfg)
	var se *SecurityError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("CheckBrokers against an untrusted certificate = %v, want a TLS *SecurityError", err)
	}

	// The server name is checked too.
	cfg.TLS = TLSConfig{Enabled: true, CAFile: pki.caFile, ServerName: "other.test"}
	if err := CheckBrokers(ctx, cfg); !errors.As(err, &se) {
		t.Fatalf("CheckBrokers with a server name not in the certificate = %v, want a *SecurityError", err)
	}
}

func TestSecurityValidate(t *testing.T) {
	pki := newTestPKI(t)
	bad := Config{
		Brokers: []string{"k:9092"},
		TLS:     TLSConfig{CAFile: "/nonexistent/ca.pem", InsecureSkipVerify: true},
		SASL:    SASLConfig{Mechanism: "GSSAPI", Username: "u"},
	}
	err := bad.Validate()
	for _, want := range []string{
		"tls.ca_file: set while tls.enabled is false",
		"tls.insecure_skip_verify: set while tls.enabled is false",
		`sasl.mechanism: "GSSAPI" is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
		}
	}

	bad = Config{
		Brokers: []string{"k:9092"},
		TLS:     TLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem", CertFile: pki.caFile},
		SASL:    SASLConfig{Mechanism: "scram-sha-512"},
	}
	err = bad.Validate()
	for _, want := range []string{
		"tls.ca_file: cannot read",
		"tls.cert_file: cert_file and key_file go together",
		"sasl.username: required with SCRAM-SHA-512",
		"sasl.password: required with SCRAM-SHA-512",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
		}
	}

	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	bad = Config{Brokers: []string{"k:9092"}, TLS: TLSConfig{Enabled: true, CAFile: notPEM}, SASL: SASLConfig{Mechanism: MechanismAWSMSKIAM, Username: "u"}}
	err = bad.Validate()
	for _, want := range []string{"tls.ca_file: \"" + notPEM + "\" holds no PEM certificate", "sasl.username: AWS_MSK_IAM takes no username"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
		}
	}

	good := Config{Brokers: []string{"k:9092"}, TLS: TLSConfig{Enabled: true, CAFile: pki.caFile, ServerName: "kafka.test"},
		SASL: SASLConfig{Mechanism: MechanismSCRAMSHA256, Username: "u", Password: "p"}}
	if err := good.Validate(); err != nil {
		t.Errorf("valid TLS+SCRAM config: %v", err)
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		EnvKafkaTLS: "true", EnvKafkaTLSCAFile: "/etc/ca.pem", EnvKafkaSASLMechanism: "SCRAM-SHA-512",
		EnvKafkaSASLUsername: "callbid", EnvKafkaSASLPassword: "s3cret-value",
	}
	var c Config
	notes, err := c.ApplyEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Config{TLS: TLSConfig{Enabled: true, CAFile: "/etc/ca.pem"}, SASL: SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "callbid", Password: "s3cret-value"}}
	if c.TLS != want.TLS || c.SASL != want.SASL {
		t.Errorf("ApplyEnv gave %+v %+v, want %+v %+v", c.TLS, c.SASL, want.TLS, want.SASL)
	}
	if len(notes) != 5 || strings.Contains(strings.Join(notes, " "), "s3cret-value") {
		t.Errorf("notes = %q: want one per variable and no secret", notes)
	}
	if _, err := c.ApplyEnv(func(k string) string { return map[string]string{EnvKafkaTLS: "yes please"}[k] }); err == nil ||
		!strings.Contains(err.Error(), EnvKafkaTLS) {
		t.Errorf("a bad %s gave %v", EnvKafkaTLS, err)
	}
}

// AWS MSK IAM cannot be tried against kfake; check the mechanism is built
// from the AWS default chain and signs for the configured region.
func TestAWSMSKIAMMechanism(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "")
	s := SASLConfig{Mechanism: MechanismAWSMSKIAM}
	if _, err := s.build(); err == nil || !strings.Contains(err.Error(), "sasl.aws_region") {
		t.Fatalf("AWS_MSK_IAM without a region: %v, want an error naming sasl.aws_region", err)
	}
	cfg := Config{Brokers: []string{"b-1.msk.example:9098"}, TLS: TLSConfig{Enabled: true}, SASL: s}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "sasl.aws_region: AWS_MSK_IAM needs a region") {
		t.Errorf("Validate of AWS_MSK_IAM without a region: %v", err)
	}
	s.AWSRegion = "eu-west-1"
	m, err := s.build()
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != MechanismAWSMSKIAM {
		t.Fatalf("mechanism %q", m.Name())
	}
	ctx := sasl.WithMetadata(context.Background(), &sasl.Metadata{Host: "b-1.msk.example", Port: 9098})
	_, ir, err := m.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]string
	if err := json.Unmarshal(ir, &payload); err != nil {
		t.Fatalf("initial response is not JSON: %v", err)
	}
	if payload["action"] != "kafka-cluster:Connect" || payload["host"] != "b-1.msk.example" ||
		!strings.Contains(payload["x-amz-credential"], "AKIDEXAMPLE/") || !strings.Contains(payload["x-amz-credential"], "/eu-west-1/kafka-cluster/") {
		t.Errorf("signed payload %v", payload)
	}
}
