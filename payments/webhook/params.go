package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrShadowedParam is returned (wrapped) for a webhook or callback URL
// whose own query uses a parameter name that sluice adds to the query of
// the requests it sends there (or, for a litepay callback URL, one of the
// iqpay webhooks' names). A receiver that reads the first value of a
// parameter (Go's url.Values.Get, for one) would take the URL's value for
// sluice's, in a request that is still signed: under the v1 signature a
// litepay callback URL made to carry address=…&status=1&kind=confirmed
// passed for an iqpay deposit (issue 14). Such URLs are refused where they
// are registered, and a stored one is not sent to.
var ErrShadowedParam = errors.New("the URL's own query uses a parameter name sluice reserves")

// paramNames are the names of params, in order.
func paramNames(params [][2]string) []string {
	out := make([]string, len(params))
	for i, kv := range params {
		out[i] = kv[0]
	}
	return out
}

// AppendedParams returns the names of the query parameters sluice adds to
// the URL of a request of flavour sent with method: the iqpay deposit
// fields for iqpay's GET and DELETE, the withdrawal webhook's for
// withdrawal's, litepay's callback parameters for litepay (always a GET),
// none for POST and PUT (their fields are in the body).
func AppendedParams(flavour, method string) []string {
	method = strings.ToUpper(method)
	if flavour == FlavourLitepay {
		method = "GET"
	}
	if method != "GET" && method != "DELETE" {
		return nil
	}
	switch flavour {
	case FlavourIqpay:
		return paramNames(Payload{}.params())
	case FlavourWithdrawal:
		return paramNames(WithdrawalPayload{}.params())
	case FlavourLitepay:
		return paramNames(litepayParams(event{}, 0))
	}
	return nil
}

// CheckOwnQuery refuses rawURL when its own query uses a parameter name
// that sluice adds to the requests of flavour sent with method
// (AppendedParams): a receiver reading the first value would take the
// URL's for sluice's. A litepay callback URL, which whoever may call
// /api/receive chooses (keyless with api.receive_merchant), may not use
// the names of the iqpay webhooks' parameters either (deposit and
// withdrawal, but for "id", which litepay's own examples use): a callback
// must not read as an iqpay webhook. Names compare case-insensitively and
// in the forms PHP reads as the same name ("a.b", "a b" and "a[]" are PHP's
// "a_b", "a_b" and "a"). The error wraps ErrShadowedParam and names the
// parameter. A URL that does not parse is left to ValidateTarget.
func CheckOwnQuery(flavour, method, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	return shadowed(u.RawQuery, flavour, method)
}

// mimicked are the names a litepay callback URL may not use because
// sluice's iqpay webhooks (deposit and withdrawal) carry them.
func mimicked() []string {
	var out []string
	for _, n := range append(AppendedParams(FlavourIqpay, "GET"), AppendedParams(FlavourWithdrawal, "GET")...) {
		if n != "id" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// shadowed is CheckOwnQuery on a URL's raw query.
func shadowed(rawQuery, flavour, method string) error {
	if rawQuery == "" {
		return nil
	}
	own := AppendedParams(flavour, method)
	var mimic []string
	if flavour == FlavourLitepay {
		mimic = mimicked()
	}
	ours, theirs := map[string]string{}, map[string]string{}
	for _, n := range mimic {
		theirs[paramKey(n)] = n
	}
	for _, n := range own {
		ours[paramKey(n)] = n
	}
	what := flavour + " " + strings.ToUpper(method) + " requests"
	if flavour == FlavourLitepay {
		what = "litepay callbacks"
	}
	for _, part := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		raw, _, _ := strings.Cut(part, "=")
		key := paramKey(raw)
		param := strconv.Quote(raw)
		if name, ok := ours[key]; ok {
			if raw != name {
				param += " (read as " + strconv.Quote(name) + ")"
			}
			return fmt.Errorf("%w: %s is one sluice adds to %s itself (%s); a receiver could read the URL's value "+
				"instead of sluice's: rename or remove it", ErrShadowedParam, param, what, strings.Join(own, ", "))
		}
		if name, ok := theirs[key]; ok {
			if raw != name {
				param += " (read as " + strconv.Quote(name) + ")"
			}
			return fmt.Errorf("%w: %s is a parameter of sluice's iqpay webhooks, and a litepay callback URL may not "+
				"read as an iqpay webhook; rename or remove it", ErrShadowedParam, param)
		}
	}
	return nil
}

// paramKey is a parameter name as a lenient receiver reads it: unescaped,
// in lower case, PHP's renaming applied (leading spaces dropped, "." and
// " " made "_", "a[…]" read as "a", a lone "[" made "_").
func paramKey(raw string) string {
	k, err := url.QueryUnescape(raw)
	if err != nil {
		k = raw
	}
	k = strings.TrimLeft(k, " ")
	if i := strings.IndexByte(k, '['); i > 0 && strings.Contains(k[i:], "]") {
		k = k[:i]
	}
	k = strings.NewReplacer(".", "_", " ", "_", "[", "_").Replace(k)
	return strings.ToLower(k)
}
