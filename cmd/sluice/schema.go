package main

import (
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/schema"
)

func newSchemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print schema variants (the ClickHouse cluster DDL)",
		Args:  cobra.NoArgs,
	}
	var cluster, database string
	clusterCmd := &cobra.Command{
		Use:   "cluster",
		Short: "Print the chain index schema for a ClickHouse cluster (replicated shards behind Distributed tables)",
		Long: `Prints the ClickHouse schema of "sluice migrate" rewritten for a cluster: every table t
becomes t_local ON CLUSTER, on the Replicated form of its engine (ReplicatedReplacingMergeTree
with the path /clickhouse/tables/{shard}/DATABASE/t_local and replica {replica}), plus t,
a Distributed table over the shards with a sharding key chosen per table (each is explained
in a comment above its statement). Column ALTERs go to both tables.

The servers need remote_servers naming the cluster (internal_replication true), ZooKeeper
or ClickHouse Keeper, and the macros {shard} and {replica}. Run the output once on any
one server, then "sluice migrate" with clickhouse.dsn naming the same database: it finds
the tables there and records the versions. Every statement is safe to run again.`,
		Example: `  sluice schema cluster --cluster sluice > cluster.sql
  sluice schema cluster --cluster sluice --database chain | clickhouse-client --multiquery`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return schema.WriteClusterDDL(cmd.OutOrStdout(), cluster, database)
		},
	}
	clusterCmd.Flags().StringVar(&cluster, "cluster", "", "cluster name, as in the servers' remote_servers (required)")
	clusterCmd.Flags().StringVar(&database, "database", "sluice", "database, the one clickhouse.dsn names")
	_ = clusterCmd.MarkFlagRequired("cluster")
	cmd.AddCommand(clusterCmd)
	return cmd
}
