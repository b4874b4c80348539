package webhook

import (
	"strings"

	"github.com/sluicepay/sluice/internal/secrets"
)

// secretColumns reads a merchant's signing secrets as stored, from the
// merchants row m: its id (their additional data when encrypted), the
// current secret, and the replaced one while its overlap lasts.
const secretColumns = `m.id, m.webhook_secret,
	CASE WHEN m.previous_webhook_secret_expires_at > now() THEN m.previous_webhook_secret ELSE '' END`

// storedSecrets is what secretColumns reads.
type storedSecrets struct {
	merchantID        int64
	current, previous string
}

// signingSecrets are the secrets a delivery is signed with: the merchant's
// current one, then during a rotation's overlap the one it replaced.
type signingSecrets []string

// open decrypts the stored secrets with key (nil: none configured, only
// secrets in the clear can be read). An error names the merchant, never a
// secret.
func (s storedSecrets) open(key *secrets.Key) (signingSecrets, error) {
	cur, err := key.OpenWebhookSecret(s.merchantID, s.current)
	if err != nil {
		return nil, err
	}
	out := signingSecrets{cur}
	if s.previous != "" {
		prev, err := key.OpenWebhookSecret(s.merchantID, s.previous)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// sign is the X-Sluice-Signature value: one v2= signature per secret,
// comma-separated, the current secret's first. A receiver verifying with
// either secret finds its match (Verify takes any one).
func (ss signingSecrets) sign(timestamp int64, p Purpose, payload []byte) (string, error) {
	sigs := make([]string, 0, len(ss))
	for _, s := range ss {
		sig, err := Sign(s, timestamp, p, payload)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, ", "), nil
}
