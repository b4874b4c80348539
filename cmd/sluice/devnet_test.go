package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/internal/testenv"
)

// runDevnet runs `sluice devnet ARGS...` in process and returns its stdout and stderr.
func runDevnet(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"devnet"}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestDevnetPayTokens: `sluice devnet pay --currency USDC` (and USDT) on the
// test stack moves exactly the amount to a fresh address, as the token's
// balanceOf shows, and prints the mined transaction's hash alone on stdout.
func TestDevnetPayTokens(t *testing.T) {
	dir := testenv.Get(t, "SLUICE_STACK_DIR")
	eth, side := testenv.Get(t, "SLUICE_ETH_RPC"), testenv.Get(t, "SLUICE_SIDECHAIN_RPC")
	for _, c := range []struct{ currency, rpc, contract, amount string }{
		{"USDC", eth, testenv.Get(t, "SLUICE_USDC_CONTRACT"), "3.141592"},
		{"usdt", eth, testenv.Get(t, "SLUICE_USDT_CONTRACT"), "0.000001"},
		{"USDT_SIDECHAIN", side, testenv.Get(t, "SLUICE_SIDECHAIN_USDT_CONTRACT"), "42.000042"},
	} {
		t.Run(c.currency, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			to, err := devnet.NewETHAddress()
			if err != nil {
				t.Fatal(err)
			}
			rpc := c.rpc
			out, errOut, err := runDevnet(t, "pay", "--dir", dir, "--currency", c.currency, "--to", to, "--amount", c.amount)
			if err != nil {
				t.Fatalf("devnet pay %s: %v\n%s", c.currency, err, errOut)
			}
			txid := strings.TrimSpace(out)
			if len(txid) != 66 || strings.Count(out, "\n") != 1 {
				t.Fatalf("stdout %q: want the transaction hash alone", out)
			}
			r, err := devnet.WaitReceipt(ctx, rpc, txid)
			if err != nil || r.Status != 1 || r.To != strings.ToLower(c.contract) {
				t.Fatalf("receipt of %s: %+v, %v (want status 1, to the token %s)", txid, r, err, c.contract)
			}
			want, err := amount.Parse(c.amount, 6)
			if err != nil {
				t.Fatal(err)
			}
			got, err := devnet.BalanceOf(ctx, rpc, c.contract, to)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cmp(want) != 0 {
				t.Errorf("%s holds %s %s units, want exactly %s", to, got, c.currency, want)
			}
		})
	}

	t.Run("SIDE_SIDECHAIN, address and mine on the sidechain", func(t *testing.T) {
		out, errOut, err := runDevnet(t, "address", "--dir", dir, "--chain", "sidechain")
		if err != nil {
			t.Fatalf("devnet address: %v\n%s", err, errOut)
		}
		to := strings.TrimSpace(out)
		if out, errOut, err = runDevnet(t, "pay", "--dir", dir, "--currency", "SIDE_SIDECHAIN", "--to", to, "--amount", "0.5"); err != nil {
			t.Fatalf("devnet pay SIDE_SIDECHAIN: %v\n%s", err, errOut)
		}
		ctx := context.Background()
		if r, err := devnet.WaitReceipt(ctx, side, strings.TrimSpace(out)); err != nil || r.Status != 1 || r.To != strings.ToLower(to) {
			t.Fatalf("receipt on the sidechain: %+v, %v", r, err)
		}
		out, errOut, err = runDevnet(t, "mine", "--dir", dir, "--chain", "sidechain", "-n", "2", "--hashes")
		if err != nil || len(strings.Fields(out)) != 2 || !strings.Contains(errOut, "mined 2 sidechain block(s)") {
			t.Fatalf("devnet mine --chain sidechain: %q %q %v", out, errOut, err)
		}
	})

	t.Run("help names USDC and the sidechain", func(t *testing.T) {
		out, _, err := runDevnet(t, "pay", "--help")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"BTC|LTC|ETH|USDT|USDC|SIDE_SIDECHAIN|USDT_SIDECHAIN", "USDC  the devnet USDC token",
			"6 for USDT, USDC and USDT_SIDECHAIN", "SIDE_SIDECHAIN, USDT_SIDECHAIN"} {
			if !strings.Contains(out, want) {
				t.Errorf("devnet pay --help lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestDevnetMineHelp: devnet mine and address --help name the sidechain.
func TestDevnetMineHelp(t *testing.T) {
	for _, cmd := range []string{"mine", "address"} {
		out, _, err := runDevnet(t, cmd, "--help")
		if err != nil || !strings.Contains(out, "btc|ltc|eth|sidechain") || !strings.Contains(out, "sidechain") {
			t.Errorf("devnet %s --help: %v\n%s", cmd, err, out)
		}
	}
}
