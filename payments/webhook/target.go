package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxURLLength is the longest callback URL accepted (the litepay API's
// own 255-character limit is checked where receive addresses are made).
const MaxURLLength = 2048

// ErrPrivateTarget is returned (wrapped) for a callback whose host is or
// resolves to a private, loopback, link-local or otherwise non-public
// address that the configuration does not allow.
var ErrPrivateTarget = errors.New("webhook target is not a public address")

// Allow lists the non-public networks webhooks may nevertheless go to
// (config webhooks.allow_private_targets). The zero value allows none.
type Allow struct {
	prefixes []netip.Prefix
}

// allowKeywords name the non-public ranges an operator may allow as a whole.
var allowKeywords = map[string][]netip.Prefix{
	"loopback":   {netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	"private":    {netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7")},
	"link-local": {netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10")},
	"cgnat":      {netip.MustParsePrefix("100.64.0.0/10")},
}

// ParseAllow reads webhooks.allow_private_targets: the keywords loopback,
// private (RFC 1918 and IPv6 ULA), link-local and cgnat (100.64.0.0/10),
// CIDRs such as 10.1.0.0/16, or single addresses.
func ParseAllow(entries []string) (Allow, error) {
	var a Allow
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if ps, ok := allowKeywords[strings.ToLower(e)]; ok {
			a.prefixes = append(a.prefixes, ps...)
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		return Allow{}, fmt.Errorf("allowed webhook target %q is neither a keyword (loopback, private, link-local, cgnat) nor a CIDR like 10.1.0.0/16", e)
	}
	return a, nil
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	reserved4 = netip.MustParsePrefix("240.0.0.0/4") // includes the broadcast address
	siteLocal = netip.MustParsePrefix("fec0::/10")   // deprecated, still routed privately
)

// class names what is not public about ip, or returns "" for a public address.
func class(ip netip.Addr) string {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified() || thisNet.Contains(ip):
		return "unspecified"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsPrivate() || siteLocal.Contains(ip):
		return "private"
	case cgnat.Contains(ip):
		return "CGNAT"
	case reserved4.Contains(ip):
		return "reserved"
	}
	return ""
}

// check refuses ip unless it is public or allowed.
func (a Allow) check(host string, ip netip.Addr) error {
	c := class(ip)
	if c == "" {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	if host == ip.String() {
		return fmt.Errorf("%w: %s is a %s address (allow it with webhooks.allow_private_targets)", ErrPrivateTarget, ip, c)
	}
	return fmt.Errorf("%w: %s resolves to %s, a %s address (allow it with webhooks.allow_private_targets)", ErrPrivateTarget, host, ip, c)
}

// ValidateTarget checks a webhook or callback URL when a merchant registers
// it: http or https, at most MaxURLLength characters, a host that resolves,
// and no address that is not public unless allow permits it. Delivery
// checks the address again when it connects, so a name that later resolves
// elsewhere (DNS rebinding) gains nothing.
func ValidateTarget(ctx context.Context, rawURL string, allow Allow) error {
	u, err := parseTarget(rawURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return allow.check(host, ip)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("webhook URL host %q does not resolve: %w", host, err)
	}
	for _, ip := range ips {
		if err := allow.check(host, ip); err != nil {
			return err
		}
	}
	return nil
}

// parseTarget checks the form of a callback URL (not where it points).
func parseTarget(rawURL string) (*url.URL, error) {
	if len(rawURL) > MaxURLLength {
		return nil, fmt.Errorf("webhook URL is %d characters long; the limit is %d", len(rawURL), MaxURLLength)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("webhook URL is not a valid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook URL scheme %q is not supported: use http or https", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("webhook URL %q has no host", rawURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("webhook URL port %q is not a number from 1 to 65535", p)
		}
	}
	return u, nil
}

// control runs after DNS, just before each connection: the address is the
// one really dialled, whatever the name resolved to at validation time.
func (a Allow) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: unexpected dial address %q: %w", address, err)
	}
	return a.check(ap.Addr().String(), ap.Addr())
}

// newClient is the HTTP client of the delivery workers: every connection
// passes the address check, no proxy from the environment (it would be the
// address checked), redirects are not followed (only the target's own
// answer acknowledges), and each request is bounded by timeout.
func newClient(allow Allow, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: allow.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
