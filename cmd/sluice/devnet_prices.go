package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/devnet"
)

func newDevnetPricesCmd() *cobra.Command {
	var listen string
	var set []string
	var table []string
	for _, c := range []string{"BTC", "LTC", "ETH", "USDT", "USDC"} {
		table = append(table, fmt.Sprintf("  %-5s %10s USD %10s EUR", c, devnet.DefaultPrices[c]["USD"], devnet.DefaultPrices[c]["EUR"]))
	}
	cmd := &cobra.Command{
		Use:   "prices",
		Short: "A fiat price server in CoinGecko's format with fixed prices, for the local stack (no internet)",
		Long: `Serves GET /api/v3/simple/price?ids=bitcoin,litecoin,ethereum,tether,usd-coin&vs_currencies=usd,eur
exactly as CoinGecko answers it ({"bitcoin":{"usd":43250.12,"eur":39800.55},...}), with
fixed prices, so webhook conversions and the litepay 1 USD minimum work on the local
stack, which has no internet. "sluice stack up" points rates.sources at it
(coingecko on port base+95, 127.0.0.1:27095 for var/stack) and "make run" starts it.

The prices, unless --price changes them:

` + strings.Join(table, "\n") + `

At these, 0.0001 LTC (0.007235 USD) is a donation under the 1 USD minimum; 0.02 LTC
(1.447 USD) is forwarded.`,
		Example: `  sluice devnet prices --listen 127.0.0.1:27095
  sluice devnet prices --price BTC/USD=50000 --price LTC/EUR=60.5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			prices := devnet.NewPrices()
			for _, s := range set {
				pair, price, ok := strings.Cut(s, "=")
				cur, fiat, ok2 := strings.Cut(pair, "/")
				if !ok || !ok2 {
					return fmt.Errorf("--price %q: write CURRENCY/FIAT=PRICE, e.g. BTC/USD=50000", s)
				}
				if err := prices.Set(cur, fiat, price); err != nil {
					return fmt.Errorf("--price: %w", err)
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "price server (CoinGecko format) on http://%s/api/v3/simple/price\n", ln.Addr())
			srv := &http.Server{Handler: prices, ReadHeaderTimeout: 10 * time.Second}
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
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:27095", "host:port to listen on")
	cmd.Flags().StringArrayVar(&set, "price", nil, "CURRENCY/FIAT=PRICE to serve instead of the fixed one (repeatable)")
	return cmd
}
