package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Headers every delivery carries.
const (
	HeaderEventID    = "X-Sluice-Event-Id"    // the event (signed): de-duplicate on it
	HeaderDeliveryID = "X-Sluice-Delivery-Id" // the delivery, one per event and flavour (not signed)
	HeaderTimestamp  = "X-Sluice-Timestamp"   // unix seconds when this attempt was signed (signed)
	HeaderFlavour    = "X-Sluice-Flavour"     // iqpay, litepay or withdrawal: for reading only, a receiver expects its own (see Expect)
	HeaderEventKind  = "X-Sluice-Event-Kind"  // created, confirmations, unconfirmed, confirmed, failed, withdrawal or payment (signed)
	HeaderSignature  = "X-Sluice-Signature"   // v2=<hex HMAC-SHA256(secret, the signing string)>, see SigningString
)

// Flavours of delivery. Each is signed into every request, so a request
// made for one never verifies as another.
const (
	FlavourIqpay   = "iqpay"   // a deposit event to the merchant's endpoint for its kind
	FlavourLitepay = "litepay" // a payment callback to a receive address's callback URL
	// FlavourWithdrawal ("withdrawal") is in withdrawal.go.
)

// KindPayment is the event kind of every litepay callback.
const KindPayment = "payment"

// flavourKinds are the event kinds each flavour sends.
var flavourKinds = map[string][]string{
	FlavourIqpay:      {"created", "confirmations", "unconfirmed", "confirmed", "failed"},
	FlavourLitepay:    {KindPayment},
	FlavourWithdrawal: {"withdrawal"},
}

// Flavours lists the flavours, in a fixed order.
var Flavours = []string{FlavourIqpay, FlavourLitepay, FlavourWithdrawal}

// KindsOf returns the event kinds flavour sends (nil for an unknown flavour).
func KindsOf(flavour string) []string { return slices.Clone(flavourKinds[flavour]) }

// signingTag opens every v2 signing string: the scheme's version, so a
// string signed under another scheme can never be read as this one.
const signingTag = "sluice-webhook-v2"

// sigPrefix marks a v2 signature in X-Sluice-Signature.
const sigPrefix = "v2="

// DefaultTolerance is how far from now X-Sluice-Timestamp may be when
// Expect.Tolerance is zero.
const DefaultTolerance = 5 * time.Minute

// maxVerifiedBody bounds the body VerifyRequest reads (sluice's bodies are
// well under 4 KiB).
const maxVerifiedBody = 1 << 20

// Errors of Verify and VerifyRequest (wrapped, with the reason).
var (
	ErrSignature = errors.New("webhook signature does not match")
	ErrTimestamp = errors.New("webhook timestamp is missing or outside the tolerance")
	ErrKind      = errors.New("webhook event kind is not one this endpoint takes")
)

// Purpose is what one signature is for: the delivery's flavour, its
// event's kind and id, and the request's method and target URL. Each goes
// into the signing string, so a signature made for one purpose verifies
// for no other.
type Purpose struct {
	Flavour string // FlavourIqpay, FlavourLitepay or FlavourWithdrawal
	Kind    string // the event kind: one of KindsOf(Flavour)
	EventID int64  // the event, as X-Sluice-Event-Id carries it
	Method  string // GET, POST, PUT or DELETE
	URL     string // the target; only CanonicalURL(URL) is signed (no query, no fragment)
}

// Sign returns the X-Sluice-Signature value of one request: "v2=" and the
// hex HMAC-SHA256, keyed with secret, of SigningString(timestamp, p,
// payload). payload is the exact request body, or for a request without
// one (GET, DELETE) the exact raw query string sent.
func Sign(secret string, timestamp int64, p Purpose, payload []byte) (string, error) {
	if _, ok := flavourKinds[p.Flavour]; !ok {
		return "", fmt.Errorf("webhook sign: unknown flavour %q", p.Flavour)
	}
	if !slices.Contains(flavourKinds[p.Flavour], p.Kind) {
		return "", fmt.Errorf("webhook sign: kind %q is not one of %s's", p.Kind, p.Flavour)
	}
	s, err := SigningString(timestamp, p, payload)
	if err != nil {
		return "", err
	}
	return sigPrefix + hex.EncodeToString(mac(secret, s)), nil
}

// SigningString is what a v2 signature covers, fields joined by "\n":
//
//	sluice-webhook-v2
//	<timestamp: unix seconds, as X-Sluice-Timestamp>
//	<flavour: iqpay, litepay or withdrawal>
//	<kind: as X-Sluice-Event-Kind>
//	<event id: decimal, as X-Sluice-Event-Id>
//	<method: GET, POST, PUT or DELETE>
//	<CanonicalURL(URL): scheme://host[:port]/path, no query>
//	<payload: the body, or the raw query string of a GET or DELETE>
//
// No field before the payload can hold a "\n" (each is checked), and the
// payload comes last, so the string reads only one way.
func SigningString(timestamp int64, p Purpose, payload []byte) ([]byte, error) {
	u, err := CanonicalURL(p.URL)
	if err != nil {
		return nil, err
	}
	switch {
	case timestamp <= 0:
		return nil, fmt.Errorf("webhook sign: timestamp %d is not unix seconds", timestamp)
	case !isToken(p.Flavour):
		return nil, fmt.Errorf("webhook sign: flavour %q is not a word", p.Flavour)
	case !isToken(p.Kind):
		return nil, fmt.Errorf("webhook sign: kind %q is not a word", p.Kind)
	case p.EventID <= 0:
		return nil, fmt.Errorf("webhook sign: event id %d is not positive", p.EventID)
	case !isMethod(p.Method):
		return nil, fmt.Errorf("webhook sign: method %q is not GET, POST, PUT or DELETE", p.Method)
	}
	var b bytes.Buffer
	for _, f := range []string{signingTag, strconv.FormatInt(timestamp, 10), p.Flavour, p.Kind,
		strconv.FormatInt(p.EventID, 10), p.Method, u} {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	b.Write(payload)
	return b.Bytes(), nil
}

func mac(secret string, s []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(s)
	return m.Sum(nil)
}

// isToken: a flavour or kind, lower-case letters and underscores.
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

func isMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodPost || m == http.MethodPut || m == http.MethodDelete
}

// CanonicalURL is the part of a webhook URL that is signed: the scheme and
// host in lower case, the port only when it is not the scheme's default
// (80 for http, 443 for https), and the path as sent on the request line
// ("/" when empty). The query, fragment and any user:password@ are left
// out. "HTTPS://Shop.Example:443/hooks/iqpay?token=abc" is
// "https://shop.example/hooks/iqpay".
func CanonicalURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("webhook URL is not a valid URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("webhook URL %q: the scheme must be http or https", rawURL)
	}
	host := strings.ToLower(u.Hostname())
	if u.Opaque != "" || host == "" {
		return "", fmt.Errorf("webhook URL %q has no host", rawURL)
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]" // IPv6
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// Expect is what a receiving endpoint knows from its own configuration,
// never from the request: which flavours of delivery it was registered for
// in sluice and under which URL. A request signed for another flavour,
// kind, event, method or URL does not verify.
type Expect struct {
	// Flavours this endpoint is registered for: FlavourIqpay for a deposit
	// endpoint, FlavourWithdrawal for a withdrawal endpoint (one URL set
	// with --webhook-url serves both: list both), FlavourLitepay for a
	// receive address's callback. Required. The X-Sluice-Flavour header is
	// not consulted: whoever controls a request controls its headers.
	Flavours []string
	// Kinds, when set, are the only event kinds accepted (the
	// confirmations endpoint also gets "unconfirmed"). Empty: any kind of
	// the flavours. The kind comes from X-Sluice-Event-Kind and is signed.
	Kinds []string
	// Method is the request's HTTP method as received (VerifyRequest
	// takes it from the request when empty). It is signed.
	Method string
	// URL is this endpoint's URL as registered in sluice (the merchant's
	// webhook URL, or the callback URL given to /api/receive); its query is
	// ignored. Take it from configuration: behind a proxy the request's
	// own Host and path may differ.
	URL string
	// Tolerance is how far X-Sluice-Timestamp may be from now: 0 is
	// DefaultTolerance (5 minutes), negative skips the check (a captured
	// request verified by hand later).
	Tolerance time.Duration
}

// Verified is what a verified request is, every field signed.
type Verified struct {
	Flavour   string // the flavour the signature was made for: one of Expect.Flavours
	Kind      string
	EventID   int64
	Timestamp time.Time
	Payload   []byte // what was signed: the body, or the raw query of a GET or DELETE; read nothing else
}

// Verify checks a delivery as its receiver gets it: header holds
// X-Sluice-Timestamp, -Event-Kind, -Event-Id and -Signature, payload is the
// exact body (or, for a GET or DELETE, the exact raw query string). The
// signature is recomputed for each of want.Flavours with want.Method and
// want.URL and compared in constant time; the header may list several
// signatures separated by commas (a secret being rotated), and one match is
// enough. Then the kind must be one want (or the flavour) takes, and the
// timestamp within the tolerance, so a captured request cannot be replayed
// later.
func Verify(secret string, want Expect, header http.Header, payload []byte) (Verified, error) {
	want.Method = strings.ToUpper(want.Method)
	urlC, err := want.check()
	if err != nil {
		return Verified{}, err
	}
	tsText := header.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts <= 0 {
		return Verified{}, fmt.Errorf("%w: %s %q is not unix seconds", ErrTimestamp, HeaderTimestamp, tsText)
	}
	sigs, v1 := parseSignatures(header.Values(HeaderSignature))
	if len(sigs) == 0 {
		if v1 {
			return Verified{}, fmt.Errorf("%w: %s has only v1 signatures, which are no longer accepted (v1 is forgeable across flavours; "+
				"the sender is an old sluice, or the request was replayed from one)", ErrSignature, HeaderSignature)
		}
		return Verified{}, fmt.Errorf("%w: %s has no v2=… signature", ErrSignature, HeaderSignature)
	}
	kind := header.Get(HeaderEventKind)
	if !isToken(kind) {
		return Verified{}, fmt.Errorf("%w: %s %q is missing or not a kind", ErrSignature, HeaderEventKind, kind)
	}
	idText := header.Get(HeaderEventID)
	eventID, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || eventID <= 0 || strconv.FormatInt(eventID, 10) != idText {
		return Verified{}, fmt.Errorf("%w: %s %q is missing or not an event id", ErrSignature, HeaderEventID, idText)
	}
	matched := ""
	for _, fl := range want.Flavours {
		s, err := SigningString(ts, Purpose{Flavour: fl, Kind: kind, EventID: eventID, Method: want.Method, URL: urlC}, payload)
		if err != nil {
			return Verified{}, err
		}
		expected := mac(secret, s)
		for _, got := range sigs {
			if hmac.Equal(got, expected) {
				matched = fl
			}
		}
		if matched != "" {
			break
		}
	}
	if matched == "" {
		why := "a wrong secret, a request changed on the way, or one signed for another flavour, endpoint URL, method, event or kind"
		if said := header.Get(HeaderFlavour); said != "" && !slices.Contains(want.Flavours, said) {
			why = fmt.Sprintf("the request says it is a %q delivery, which this endpoint does not take", said)
		}
		return Verified{}, fmt.Errorf("%w for %s %s as %s: %s", ErrSignature, want.Method, urlC, strings.Join(want.Flavours, " or "), why)
	}
	if len(want.Kinds) > 0 && !slices.Contains(want.Kinds, kind) {
		return Verified{}, fmt.Errorf("%w: %q, this endpoint takes %s", ErrKind, kind, strings.Join(want.Kinds, ", "))
	}
	if !slices.Contains(flavourKinds[matched], kind) {
		return Verified{}, fmt.Errorf("%w: %q is not a %s kind", ErrKind, kind, matched)
	}
	at := time.Unix(ts, 0)
	tol := want.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	if tol > 0 {
		if d := time.Since(at); d > tol || d < -tol {
			return Verified{}, fmt.Errorf("%w: signed %s ago, tolerance %s", ErrTimestamp, d.Round(time.Second), tol)
		}
	}
	return Verified{Flavour: matched, Kind: kind, EventID: eventID, Timestamp: at, Payload: payload}, nil
}

// check validates the receiver's own settings and returns its canonical URL.
func (e Expect) check() (string, error) {
	if len(e.Flavours) == 0 {
		return "", errors.New("webhook.Expect: Flavours is empty: name the flavours this endpoint is registered for (iqpay, litepay, withdrawal)")
	}
	for _, f := range e.Flavours {
		if _, ok := flavourKinds[f]; !ok {
			return "", fmt.Errorf("webhook.Expect: flavour %q is not one of %s", f, strings.Join(Flavours, ", "))
		}
	}
	if !isMethod(e.Method) {
		return "", fmt.Errorf("webhook.Expect: method %q is not GET, POST, PUT or DELETE", e.Method)
	}
	if e.URL == "" {
		return "", errors.New("webhook.Expect: URL is empty: give this endpoint's URL as registered in sluice")
	}
	u, err := CanonicalURL(e.URL)
	if err != nil {
		return "", fmt.Errorf("webhook.Expect: %w", err)
	}
	return u, nil
}

// parseSignatures reads the v2 signatures of X-Sluice-Signature values
// (comma-separated) and tells whether there were v1 ones.
func parseSignatures(values []string) (v2 [][]byte, v1 bool) {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if strings.HasPrefix(part, "v1=") {
				v1 = true
			}
			h, ok := strings.CutPrefix(part, sigPrefix)
			if !ok {
				continue
			}
			if b, err := hex.DecodeString(h); err == nil && len(b) == sha256.Size {
				v2 = append(v2, b)
			}
		}
	}
	return v2, v1
}

// VerifyRequest is Verify on an incoming request: the method is the
// request's (want.Method, when set, must be the same), the payload its
// body, or for a GET or DELETE its raw query string. r.Body is read (at
// most 1 MiB) and put back, so the handler can read it again; better, it
// reads Verified.Payload, which is exactly what was signed.
func VerifyRequest(secret string, want Expect, r *http.Request) (Verified, error) {
	if want.Method == "" {
		want.Method = r.Method
	} else if !strings.EqualFold(want.Method, r.Method) {
		return Verified{}, fmt.Errorf("%w: the request is a %s, this endpoint takes %s", ErrSignature, r.Method, want.Method)
	}
	want.Method = strings.ToUpper(want.Method)
	var payload []byte
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxVerifiedBody+1))
		if err != nil {
			return Verified{}, fmt.Errorf("webhook: read the request body: %w", err)
		}
		if len(body) > maxVerifiedBody {
			return Verified{}, fmt.Errorf("%w: the body is over %d bytes", ErrSignature, maxVerifiedBody)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		payload = body
	}
	if want.Method == http.MethodGet || want.Method == http.MethodDelete {
		payload = []byte(r.URL.RawQuery)
	}
	return Verify(secret, want, r.Header, payload)
}
