package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/stack"
)

// devnetExitDown is the exit status when the stack is missing or a node does not answer (as `stack status`).
const devnetExitDown = 3

func newDevnetCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Pay, mine and make addresses on the local stack's nodes (operators and end-to-end tests)",
		Long: `Drives the local stack's regtest and dev chains (see "sluice stack"): pay from its funded
wallets, mine blocks, and make destination addresses. Each command prints its one result
alone on stdout (a txid, a height, an address), so a script can capture it; progress and
errors go to stderr.

The stack is the one in --dir (default $SLUICE_STACK_DIR, which "sluice stack env" sets,
else var/stack); node URLs, passwords, the btcd mining key, geth's dev account and the
USDT and USDC contracts come from its stack.json. The stack's second EVM dev chain,
chains.evm.sidechain (geth2, chain id 1338), is the chain key sidechain: its coin is
SIDE_SIDECHAIN and its USDT-like token USDT_SIDECHAIN.

Exit status: 0 on success, 3 when there is no stack in --dir or one of its nodes does not
answer (start it with "sluice stack up"), 1 for anything else (bad input, a node refusing
the transaction).`,
		Example: `  eval "$(sluice stack env)"
  addr=$(sluice devnet address --chain ltc)
  txid=$(sluice devnet pay --currency LTC --to "$addr" --amount 0.015)
  sluice devnet mine --chain ltc -n 6`,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", envOr("SLUICE_STACK_DIR", "var/stack"), "stack directory [$SLUICE_STACK_DIR]")

	// run opens the stack, gives fn its nodes, and turns "not running" into a clear exit 3.
	run := func(cmd *cobra.Command, timeout time.Duration, fn func(context.Context, devnet.Nodes) error) error {
		upHint := "sluice stack up"
		if filepath.Clean(dir) != filepath.Join("var", "stack") {
			upHint += " --dir " + dir
		}
		if !stack.Exists(dir) {
			return &exitError{devnetExitDown, fmt.Errorf("no stack in %s: start one with `%s` (or point --dir or $SLUICE_STACK_DIR at it)", dir, upHint)}
		}
		nodes, err := stackNodes(dir, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		err = fn(ctx, nodes)
		if errors.Is(err, devnet.ErrNodeDown) {
			return &exitError{devnetExitDown, fmt.Errorf("%w: is the stack in %s running? start it with `%s`", err, dir, upHint)}
		}
		return err
	}

	var currency, to, amount string
	pay := &cobra.Command{
		Use:   "pay --currency BTC|LTC|ETH|USDT|USDC|SIDE_SIDECHAIN|USDT_SIDECHAIN --to ADDRESS --amount DECIMAL",
		Short: "Pay from the stack's funded wallets; print the txid alone on stdout",
		Long: `Pays an exact decimal amount to ADDRESS and prints the transaction id once the node has
accepted it: BTC and LTC in the mempool (mine a block to confirm them), the EVM chains'
coins and tokens mined (geth --dev seals a block a second).

  BTC   btcd has no wallet: spends one matured coinbase output of the stack's mining key
        (a payment is at most one coinbase, up to 50 BTC), fee 0.0001 BTC
  LTC   litecoind's funded wallet (sendtoaddress)
  ETH   geth's dev account (eth_sendTransaction)
  USDT  the devnet USDT token (6 decimals; transfer returns nothing, as mainnet USDT's),
        transfer from the dev account, which mints what it lacks first
  USDC  the devnet USDC token (6 decimals; transfer returns bool, as mainnet USDC's),
        the same way
  SIDE_SIDECHAIN, USDT_SIDECHAIN
        the coin and the devnet USDT token (6 decimals) of the stack's second EVM
        chain, sidechain (geth2): as ETH and USDT, from its own dev account, once
        its node reports the chain's id (1338); a chains.evm chain's currencies
        are SYMBOL_KEY
A token transfer is simulated first: one that would revert, or whose token answers
false, is not sent; once mined, the token's Transfer log must carry exactly the amount.

The amount is read exactly, never through floating point: at most 8 decimal places for
BTC and LTC, 18 for ETH and SIDE_SIDECHAIN, 6 for USDT, USDC and USDT_SIDECHAIN (zeros
past those are accepted: they change nothing); more than zero; no sign, exponent or
separators.
ADDRESS must belong to the stack's network: bcrt1… (BTC regtest), rltc1… (LTC regtest),
or a regtest base58 address; 0x and 40 hex digits on the EVM chains.`,
		Example: `  sluice devnet pay --currency BTC --to bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080 --amount 0.5
  sluice devnet pay --currency LTC --to "$(sluice devnet address --chain ltc)" --amount 1.23456789
  sluice devnet pay --currency ETH --to 0x00000000000000000000000000000000000000aa --amount 0.000000000000000001
  txid=$(sluice devnet pay --currency USDT --to "$ADDR" --amount 12.5)
  txid=$(sluice devnet pay --currency USDC --to "$ADDR" --amount 7.000001)
  txid=$(sluice devnet pay --currency USDT_SIDECHAIN --to "$ADDR" --amount 3.5)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, 3*time.Minute, func(ctx context.Context, n devnet.Nodes) error {
				txid, err := n.Pay(ctx, currency, to, amount)
				if err != nil {
					return fmt.Errorf("pay: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), txid)
				return nil
			})
		},
	}
	pay.Flags().StringVar(&currency, "currency", "", "BTC, LTC, ETH, USDT, USDC, SIDE_SIDECHAIN or USDT_SIDECHAIN (any case)")
	pay.Flags().StringVar(&to, "to", "", "destination address on the stack's network")
	pay.Flags().StringVar(&amount, "amount", "", "exact decimal amount, such as 0.015")
	for _, f := range []string{"currency", "to", "amount"} {
		_ = pay.MarkFlagRequired(f)
	}

	var chain string
	var blocks int
	var hashes bool
	mine := &cobra.Command{
		Use:   "mine --chain btc|ltc|eth|sidechain [-n N]",
		Short: "Mine N blocks (default 1); print the new tip height",
		Long: fmt.Sprintf(`Adds N blocks (1 to %d) to a chain of the stack and prints the height of the new tip
(with --hashes: the new blocks' hashes instead, oldest first, one a line).

  btc  btcd generate, to the stack's mining address
  ltc  litecoind generatetoaddress, to a fresh address of its wallet
  eth  geth --dev seals a block every second on its own: waits for N new blocks
       (about N seconds); if none comes for 3 s, sends a zero-value transaction from
       the dev account to itself to have one sealed
  sidechain
       the stack's second EVM dev chain (geth2, chain id 1338): the same as eth`, devnet.MaxMine),
		Example: `  sluice devnet mine --chain btc
  sluice devnet mine --chain ltc -n 6
  sluice devnet mine --chain eth -n 3 --hashes
  sluice devnet mine --chain sidechain -n 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, 0, func(ctx context.Context, n devnet.Nodes) error {
				m, err := n.Mine(ctx, chain, blocks)
				if err != nil {
					return fmt.Errorf("mine: %w", err)
				}
				if hashes {
					fmt.Fprintln(cmd.OutOrStdout(), strings.Join(m.Hashes, "\n"))
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), m.Height)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "mined %d %s block(s); tip at %d\n", len(m.Hashes), strings.ToLower(chain), m.Height)
				return nil
			})
		},
	}
	mine.Flags().StringVar(&chain, "chain", "", "btc, ltc, eth or sidechain")
	mine.Flags().IntVarP(&blocks, "blocks", "n", 1, "how many blocks")
	mine.Flags().BoolVar(&hashes, "hashes", false, "print the new blocks' hashes, one a line, instead of the tip height")
	_ = mine.MarkFlagRequired("chain")

	var addrChain string
	address := &cobra.Command{
		Use:   "address --chain btc|ltc|eth|sidechain",
		Short: "Print a fresh destination address on the stack's network, alone on stdout",
		Long: `Prints a fresh address to pay to:

  ltc  a new bech32 address (rltc1…) of litecoind's wallet: the coins stay in the
       stack's funded wallet
  btc  btcd has no wallet: the regtest P2WPKH address (bcrt1q…) of a fresh random key
       that is not kept, so coins sent there are never spent again
  eth, sidechain
       the address of a fresh random key that is not kept (EIP-55 checksummed)`,
		Example: `  sluice devnet address --chain ltc
  addr=$(sluice devnet address --chain eth); sluice devnet pay --currency USDT --to "$addr" --amount 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, time.Minute, func(ctx context.Context, n devnet.Nodes) error {
				a, err := n.NewAddress(ctx, addrChain)
				if err != nil {
					return fmt.Errorf("address: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), a)
				return nil
			})
		},
	}
	address.Flags().StringVar(&addrChain, "chain", "", "btc, ltc, eth or sidechain")
	_ = address.MarkFlagRequired("chain")

	cmd.AddCommand(pay, mine, address, newDevnetReceiverCmd(), newDevnetPricesCmd())
	return cmd
}

func newDevnetReceiverCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "receiver",
		Short: "A webhook receiver for trying sluice: prints every request as a JSON line, answers 200 *ok*",
		Long: `Listens on --listen and prints each request it gets (method, path, query, the X-Sluice-*
headers, body) as one JSON line on stdout, answering 200 with the body *ok*, which
acknowledges both webhook flavours (iqpay wants the 200, litepay the *ok*). "make run"
starts one on 127.0.0.1:27090 for its demo merchant, logging to var/stack/receiver.log.`,
		Example: `  sluice devnet receiver --listen 127.0.0.1:27090 >> var/stack/receiver.log`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "webhook receiver on http://%s\n", ln.Addr())
			srv := &http.Server{Handler: &devnet.Receiver{Out: cmd.OutOrStdout()}, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:27090", "host:port to listen on")
	return cmd
}

// stackNodes describes the nodes of the stack in dir from its state.
func stackNodes(dir string, log io.Writer) (devnet.Nodes, error) {
	s, err := stack.Open(stack.Options{Dir: dir})
	if err != nil {
		return devnet.Nodes{}, err
	}
	env := map[string]string{}
	for _, kv := range s.Env() {
		env[kv.Key] = kv.Value
	}
	n := devnet.Nodes{
		BTCRPC: env["SLUICE_BTC_RPC"], BTCMiningKey: s.State.BTCMiningKey,
		LTCRPC: env["SLUICE_LTC_RPC"], LTCWallet: s.State.LTCWallet,
		ETHRPC: env["SLUICE_ETH_RPC"], ETHDevAccount: s.State.ETHDevAccount,
		USDTContract: s.State.USDTContract, USDCContract: s.State.USDCContract,
		Log: log,
	}
	for _, c := range s.EVMDevChains() {
		e := devnet.EVMChain{Key: c.Key, ChainID: c.ChainID, RPC: c.RPC, DevAccount: c.DevAccount,
			Native: devnet.Token{Symbol: c.Native, Decimals: c.NativeDecimals}}
		for _, tk := range c.Tokens {
			e.Tokens = append(e.Tokens, devnet.Token{Symbol: tk.Symbol, Decimals: tk.Decimals, Contract: tk.Contract})
		}
		n.EVM = append(n.EVM, e)
	}
	return n, nil
}
