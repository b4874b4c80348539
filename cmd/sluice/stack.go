package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/stack"
)

func newStackCmd() *cobra.Command {
	var opts stack.Options
	var services []string
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Run the local dependency stack (ClickHouse, PostgreSQL, Redis, btcd, litecoind, geth, geth2)",
		Long: `The local stack is everything sluice depends on, for development and tests, on one
machine: ClickHouse, PostgreSQL 15, Redis 7 (AOF on), btcd (Bitcoin regtest), litecoind
(Litecoin regtest, funded wallet), geth (--dev, funded account, chain id 1337) and geth2
(a second --dev chain, chain id 1338, configured as chains.evm.sidechain: its coin SIDE
and a USDT-like token). Every service binds to 127.0.0.1 only; data, logs and pid files
live in --dir.

"up" installs what is missing (Debian packages with apt-get, btcd and geth with
go install into var/bin), starts each service, waits until it answers, and mines
regtest blocks so the node wallets can spend. It is safe to run again at any time:
running services are reused, dead ones (kill -9, stale pid files) are restarted.

Ports are --port-base plus a fixed offset each (API +80, ClickHouse +100/+101,
PostgreSQL +110, Redis +120, btcd +130/+131, litecoind +140, geth +150/+151,
geth2 +160/+161);
the base is remembered in DIR/stack.json.`,
		Example: `  sluice stack up
  eval "$(sluice stack env)"
  sluice stack status
  sluice stack down
  sluice stack up --dir var/teststack --port-base 28000   # a second, separate stack`,
	}
	cmd.PersistentFlags().StringVar(&opts.Dir, "dir", envOr("SLUICE_STACK_DIR", "var/stack"), "stack directory (data, logs, pids) [$SLUICE_STACK_DIR]")
	cmd.PersistentFlags().StringVar(&opts.BinDir, "bin-dir", "var/bin", "where go-installed binaries (btcd, geth) are kept")
	cmd.PersistentFlags().IntVar(&opts.PortBase, "port-base", 0, fmt.Sprintf("first port of the stack (default: the recorded one, else %d)", stack.DefaultPortBase))

	open := func(cmd *cobra.Command) (*stack.Stack, error) {
		opts.Out = cmd.ErrOrStderr()
		return stack.Open(opts)
	}
	svcFlag := func(c *cobra.Command) {
		c.Flags().StringSliceVar(&services, "services", nil, "only these services ("+strings.Join(stack.Services(), ",")+")")
	}

	up := &cobra.Command{
		Use:   "up",
		Short: "Install, start and prepare the stack; reuse what runs already",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			if err := s.Up(cmd.Context(), services); err != nil {
				return fmt.Errorf("stack up: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "stack ready in %s\nconfig: %s\nnext:   eval \"$(sluice stack env --dir %s)\"\n", s.Dir, s.ConfigFile(), opts.Dir)
			return nil
		},
	}
	svcFlag(up)

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the services this stack started (data is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stack.Exists(opts.Dir) {
				fmt.Fprintf(cmd.ErrOrStderr(), "no stack in %s: nothing to stop\n", opts.Dir)
				return nil
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			return s.Down(cmd.Context(), services)
		},
	}
	svcFlag(down)

	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each service, its address, and whether it answers (exit 3 if any does not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stack.Exists(opts.Dir) {
				return &exitError{3, fmt.Errorf("no stack in %s: run `sluice stack up`", opts.Dir)}
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			sts := s.Status(cmd.Context())
			down := 0
			for _, st := range sts {
				if !st.Answers {
					down++
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(sts); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVICE\tADDRESS\tPID\tSTATE")
				for _, st := range sts {
					state, pid := "answers", "-"
					if st.Pid != 0 {
						pid = fmt.Sprint(st.Pid)
					}
					switch {
					case !st.Answers && st.Running:
						state = "running, not answering: " + st.Error
					case !st.Answers:
						state = "down"
					case !st.Running:
						state = "answers (not started by this stack)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.Name, st.Addr, pid, state)
				}
				tw.Flush()
			}
			if down > 0 {
				return &exitError{3, fmt.Errorf("%d of %d services do not answer; run `sluice stack up`", down, len(sts))}
			}
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	env := &cobra.Command{
		Use:   "env",
		Short: "Print KEY='VALUE' lines for the shell: eval \"$(sluice stack env)\"",
		Long: `Prints the variables that point sluice and its tests at this stack, quoted for a
POSIX shell. With them set, "sluice serve", "sluice migrate" and every other
subcommand work without further flags. The values include generated passwords:
print them to your own terminal only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stack.Exists(opts.Dir) {
				return fmt.Errorf("no stack in %s: run `sluice stack up` first", opts.Dir)
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			for _, kv := range s.Env() {
				fmt.Fprintf(cmd.OutOrStdout(), "export %s=%s\n", kv.Key, stack.ShellQuote(kv.Value))
			}
			return nil
		},
	}
	cmd.AddCommand(up, down, status, env)
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
