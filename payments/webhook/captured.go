package webhook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// ErrCaptured is returned (wrapped) by VerifyCaptured and ParseHeaderLines
// when what was given cannot be checked at all (as opposed to a request
// that is checked and found not authentic).
var ErrCaptured = errors.New("cannot check this request")

// ParseHeaderLines reads request headers as a receiver logged them, one
// "Name: value" a line (curl -v's "> " prefix is dropped). Blank lines and
// lines starting with # are skipped, and so is a request line such as
// "GET /cb?x=1 HTTP/1.1". A header given twice keeps both values.
func ParseHeaderLines(r io.Reader) (http.Header, error) {
	h := http.Header{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "> "))
		if line == "" || strings.HasPrefix(line, "#") || isRequestLine(line) {
			continue
		}
		if err := AddHeaderLine(h, line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: read headers: %v", ErrCaptured, err)
	}
	return h, nil
}

// AddHeaderLine adds one "Name: value" header to h.
func AddHeaderLine(h http.Header, line string) error {
	name, value, ok := strings.Cut(line, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("%w: %q is not a header: write Name: value", ErrCaptured, line)
	}
	h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	return nil
}

func isRequestLine(line string) bool {
	f := strings.Fields(line)
	return len(f) == 3 && isMethod(f[0]) && strings.HasPrefix(f[2], "HTTP/")
}

// VerifyCaptured checks a request a receiver captured, as `sluice webhooks
// verify` does: want.URL is the URL as received, with its query (for a GET
// or DELETE that query is the payload; the rest, its scheme, host and
// path, is the endpoint as registered in sluice), body is the exact body
// of a POST or PUT. want.Method is the request's method.
func VerifyCaptured(secret string, want Expect, header http.Header, body []byte) (Verified, error) {
	want.Method = strings.ToUpper(want.Method)
	if !isMethod(want.Method) {
		return Verified{}, fmt.Errorf("%w: the method %q is not GET, POST, PUT or DELETE", ErrCaptured, want.Method)
	}
	u, err := url.Parse(want.URL)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: the URL: %v", ErrCaptured, err)
	}
	if _, err := CanonicalURL(want.URL); err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrCaptured, err)
	}
	payload := body
	if want.Method == http.MethodGet || want.Method == http.MethodDelete {
		if len(body) > 0 {
			return Verified{}, fmt.Errorf("%w: sluice sends a %s without a body (its query string is what is signed): "+
				"give no body", ErrCaptured, want.Method)
		}
		payload = []byte(u.RawQuery)
	}
	if strings.TrimSpace(secret) == "" {
		return Verified{}, fmt.Errorf("%w: the secret is empty", ErrCaptured)
	}
	return Verify(secret, want, header, payload)
}
