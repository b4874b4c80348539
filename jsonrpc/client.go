package jsonrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// Error is an error object returned by the node.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// ErrUnauthorized means the node refused the credentials.
var ErrUnauthorized = errors.New("node refused the RPC credentials (HTTP 401): check USER:PASSWORD in the URL")

// Client calls one node. It is safe for concurrent use.
type Client struct {
	endpoint string // without credentials
	redacted string
	user     string
	pass     string
	version  string
	http     *http.Client
	id       atomic.Uint64
}

// Option changes a Client.
type Option func(*Client)

// WithVersion sets the "jsonrpc" member ("1.0" for Bitcoin-family nodes, the default "2.0" for geth).
func WithVersion(v string) Option { return func(c *Client) { c.version = v } }

// WithHTTPClient replaces the default HTTP client (30 s timeout, keep-alive).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New parses rawURL (http://user:pass@host:port) and returns a client.
func New(rawURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("jsonrpc: invalid node URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("jsonrpc: node URL %s: scheme must be http or https", u.Redacted())
	}
	c := &Client{redacted: u.Redacted(), version: "2.0", http: &http.Client{Timeout: 30 * time.Second}}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		u.User = nil
	}
	c.endpoint = u.String()
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL returns the node URL with its password hidden, for logs.
func (c *Client) URL() string { return c.redacted }

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

// Call invokes method with params and decodes the result into result (which may be nil).
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(request{JSONRPC: c.version, ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	// A node closes idle keep-alive connections (bitcoind's rpcservertimeout):
	// a call that meets one it just closed fails with EOF before the node
	// read it. Marked idempotent (a nil value sends no header), the Transport
	// sends it again on a fresh connection; node calls are safe to repeat in
	// that case (the node never saw the first).
	req.Header["Idempotency-Key"] = nil
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.http.CloseIdleConnections()
		return fmt.Errorf("%s at %s: %w", method, c.redacted, stripURL(err))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// A node shutting down answers 503 and waits for idle keep-alive
		// connections before it exits: let go of ours (after the body is
		// closed, which returns the connection to the idle pool).
		c.http.CloseIdleConnections()
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s at %s: %w", method, c.redacted, ErrUnauthorized)
	}
	if err != nil {
		return fmt.Errorf("%s at %s: read reply: %w", method, c.redacted, err)
	}
	// Bitcoin Core answers RPC errors with HTTP 500 and a JSON body: read it first.
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s at %s: HTTP %s (node starting or stopping?)", method, c.redacted, resp.Status)
		}
		return fmt.Errorf("%s at %s: reply is not JSON-RPC: %.200q", method, c.redacted, raw)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %w", method, r.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s at %s: HTTP %d", method, c.redacted, resp.StatusCode)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("%s at %s: decode result: %w", method, c.redacted, err)
	}
	return nil
}

// stripURL drops the *url.Error wrapper, whose text repeats the endpoint.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
