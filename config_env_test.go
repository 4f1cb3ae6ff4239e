package callbid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One image serves every environment: the notice base URL and both secrets
// come from the environment, the secrets also from mounted files.

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNoticeBaseURLFromEnvironment(t *testing.T) {
	cfg, err := Load("configs/production.yaml", env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsToken, "tok",
		EnvNoticeBaseURL, "https://bid.staging.example"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.NoticeBaseURL != "https://bid.staging.example" {
		t.Errorf("notice_base_url = %q", cfg.Server.NoticeBaseURL)
	}
	if !strings.Contains(strings.Join(cfg.Notes, "\n"), EnvNoticeBaseURL) {
		t.Errorf("the start-up notes do not say the URL was overridden: %q", cfg.Notes)
	}
	// The override is validated like the file's value.
	_, err = Load("configs/production.yaml", env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsToken, "tok",
		EnvNoticeBaseURL, "bid.example.com/"))
	if err == nil || !strings.Contains(err.Error(), "server.notice_base_url") {
		t.Fatalf("a bad CALLBID_NOTICE_BASE_URL: %v", err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	cfg, err := Load("configs/production.yaml", env(
		EnvCallsTokenFile, writeSecret(t, "token-from-file\n"),
		EnvNoticeSecretFile, writeSecret(t, "secret-from-file-0123456789\r\n"),
	))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Numbers.CallsToken != "token-from-file" {
		t.Errorf("calls token = %q, want the file's content without the trailing newline", cfg.Numbers.CallsToken)
	}
	if cfg.Server.NoticeSecret != "secret-from-file-0123456789" {
		t.Errorf("notice secret = %q, want the file's content without the trailing CRLF", cfg.Server.NoticeSecret)
	}
	// Only one trailing newline is the editor's; inner whitespace is the secret's.
	cfg, err = Load("configs/production.yaml", env(EnvCallsToken, "tok",
		EnvNoticeSecretFile, writeSecret(t, " spaced secret 0123456789 \n")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.NoticeSecret != " spaced secret 0123456789 " {
		t.Errorf("notice secret = %q", cfg.Server.NoticeSecret)
	}
}

func TestSecretFileErrorsNameTheVariable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		name string
		env  func(string) string
		want []string
	}{
		{"unreadable", env(EnvCallsToken, "tok", EnvNoticeSecretFile, missing),
			[]string{EnvNoticeSecretFile + ": cannot read the secret", "nope"}},
		{"empty", env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsTokenFile, writeSecret(t, "\n")),
			[]string{EnvCallsTokenFile + ": ", "is empty"}},
		{"both", env(EnvNoticeSecret, "0123456789abcdef-secret", EnvCallsToken, "tok", EnvCallsTokenFile, writeSecret(t, "x")),
			[]string{EnvCallsToken + " and " + EnvCallsTokenFile + " are both set"}},
	} {
		_, err := Load("configs/production.yaml", tc.env)
		if err == nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error does not say %q:\n%v", tc.name, w, err)
			}
		}
	}
}

func TestLogFormat(t *testing.T) {
	for _, f := range []string{"", "json", "console"} {
		if _, err := Parse([]byte("log: {format: " + f + "}\n")); err != nil {
			t.Fatal(err)
		}
		c := LogConfig{Format: f}
		if err := c.Validate(); err != nil {
			t.Errorf("format %q: %v", f, err)
		}
	}
	c := LogConfig{Format: "text"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("format text: %v", err)
	}
}
