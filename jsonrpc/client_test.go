package jsonrpc

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/internal/testenv"
)

// These tests talk to the test stack's real nodes.

func TestCallBitcoinFamily(t *testing.T) {
	for _, key := range []string{"SLUICE_BTC_RPC", "SLUICE_LTC_RPC"} {
		t.Run(key, func(t *testing.T) {
			c, err := New(testenv.Get(t, key), WithVersion("1.0"))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			if err := c.Call(context.Background(), "getblockcount", &n); err != nil || n < 1 {
				t.Fatalf("getblockcount: %d, %v", n, err)
			}
			var hash string
			if err := c.Call(context.Background(), "getblockhash", &hash, 0); err != nil || len(hash) != 64 {
				t.Fatalf("getblockhash 0: %q, %v", hash, err)
			}
			// a node-side error comes back typed, with the node's code
			err = c.Call(context.Background(), "getblockhash", &hash, 1<<30)
			var rpcErr *Error
			if !errors.As(err, &rpcErr) || rpcErr.Code == 0 {
				t.Fatalf("want a typed RPC error, got %v", err)
			}
			if !strings.Contains(err.Error(), "getblockhash") {
				t.Errorf("error does not name the method: %v", err)
			}
		})
	}
}

func TestWrongPasswordIsClearAndSecret(t *testing.T) {
	u, err := url.Parse(testenv.Get(t, "SLUICE_LTC_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("sluice", "wrong-secret-pw")
	c, err := New(u.String(), WithVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(context.Background(), "getblockcount", nil)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("want ErrUnauthorized, got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-pw") || strings.Contains(c.URL(), "wrong-secret-pw") {
		t.Fatalf("password leaked: %v / %s", err, c.URL())
	}
}

func TestEthereum(t *testing.T) {
	c, err := New(testenv.Get(t, "SLUICE_ETH_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := c.Call(context.Background(), "eth_chainId", &id); err != nil || id != "0x539" {
		t.Fatalf("eth_chainId: %q, %v (geth --dev is 1337)", id, err)
	}
	err = c.Call(context.Background(), "no_such_method", nil)
	var rpcErr *Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != -32601 {
		t.Fatalf("want method-not-found, got %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	c, err := New("http://u:hidden-pw@127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(context.Background(), "getblockcount", nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "hidden-pw") {
		t.Fatalf("got %v", err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "://", "ws://127.0.0.1:1"} {
		if _, err := New(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
