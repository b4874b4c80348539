package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers every delivery carries.
const (
	HeaderEventID    = "X-Sluice-Event-Id"    // the deposit event: de-duplicate on it
	HeaderDeliveryID = "X-Sluice-Delivery-Id" // the delivery (one per event and flavour)
	HeaderTimestamp  = "X-Sluice-Timestamp"   // unix seconds when this attempt was signed
	HeaderSignature  = "X-Sluice-Signature"   // v1=<hex HMAC-SHA256(secret, timestamp + "." + payload)>
)

// Errors of Verify.
var (
	ErrSignature = errors.New("webhook signature does not match")
	ErrTimestamp = errors.New("webhook timestamp is missing or outside the tolerance")
)

// Sign returns the X-Sluice-Signature value for payload: the exact request
// body, or for a request without one (GET, DELETE) the exact raw query
// string sent.
func Sign(secret string, timestamp int64, payload []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), payload))
}

func mac(secret, timestamp string, payload []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// Verify checks a delivery as its receiver gets it: timestamp and signature
// are the X-Sluice-Timestamp and X-Sluice-Signature headers, payload the
// body (or the raw query string of a GET or DELETE). The comparison takes
// constant time. A timestamp further than tolerance from now is refused,
// so a captured request cannot be replayed later; tolerance <= 0 skips that
// check. The header may list several signatures separated by commas (a
// secret being rotated); one match is enough.
func Verify(secret, timestamp, signature string, payload []byte, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrTimestamp, timestamp)
	}
	want := mac(secret, timestamp, payload)
	ok := false
	for _, part := range strings.Split(signature, ",") {
		h, found := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !found {
			continue
		}
		got, err := hex.DecodeString(h)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignature
	}
	if tolerance > 0 {
		if d := time.Since(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrTimestamp, d.Round(time.Second), tolerance)
		}
	}
	return nil
}
