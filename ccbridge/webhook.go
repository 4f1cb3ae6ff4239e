package ccbridge

// The webhook listener itself (routes, signatures, answers) is in
// httpapi/bridge; these are what it needs of the bridge.

// WebhookAuth is what the webhook listener checks requests against.
type WebhookAuth struct {
	Webhook WebhookConfig
	// TwilioAuthToken and TwilioPublicURL check X-Twilio-Signature.
	TwilioAuthToken, TwilioPublicURL string
}

// WebhookAuth returns the listener's limits and credentials.
func (b *Bridge) WebhookAuth() WebhookAuth {
	return WebhookAuth{Webhook: b.cfg.Webhook, TwilioAuthToken: b.cfg.Twilio.AuthToken, TwilioPublicURL: b.cfg.Twilio.PublicURL}
}

// Refused counts a webhook request refused for its credentials (bad
// inputs) and logs it, rate-limited.
func (b *Bridge) Refused(path, remote string) {
	b.stats.bad.Add(1)
	if n, ok := b.warn.allow(b.now()); ok {
		b.log.Warn().Str("path", path).Str("remote", remote).Int("suppressed", n).
			Msg("refused a webhook without valid credentials")
	}
}

// Oversized counts a webhook body past webhook.max_body_bytes (a bad
// input).
func (b *Bridge) Oversized() { b.stats.bad.Add(1) }
