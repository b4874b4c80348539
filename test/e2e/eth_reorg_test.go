package e2e

import (
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	gethnode "github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// TestEthReorgSimulated runs the Ethereum follower against go-ethereum's
// simulated backend (a real chain in process, which can fork) and the test
// stack's ClickHouse, Postgres and Redis: after a 2-block reorg the index
// holds only the new branch.
func TestEthReorgSimulated(t *testing.T) {
	ie := newIndexEnv(t)
	ctx := context.Background()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key2, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	from, from2 := crypto.PubkeyToAddress(key.PublicKey), crypto.PubkeyToAddress(key2.PublicKey)
	rich := new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil)
	// the simulated node serves JSON-RPC on loopback, so the follower talks to
	// it as to any geth
	port, _ := strconv.Atoi(strings.Split(deadPort(t), ":")[1])
	sim := simulated.NewBackend(types.GenesisAlloc{from: {Balance: rich}, from2: {Balance: rich}},
		func(nc *gethnode.Config, _ *ethconfig.Config) {
			nc.HTTPHost, nc.HTTPPort, nc.HTTPModules = "127.0.0.1", port, []string{"eth", "net", "web3"}
		})
	defer sim.Close()
	client := sim.Client()
	simNode, err := ethereum.Dial(ctx, "eth", "http://127.0.0.1:"+strconv.Itoa(port), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer simNode.Close()

	pg, err := stores.OpenPostgres(ctx, ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	reg := prometheus.NewRegistry()
	f := indexer.NewFollower(indexer.Options[ethereum.Indexed]{Chain: "eth", Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		&ethereum.Source{Node: simNode},
		store.NewEthereumSink(store.NewWriter(ie.ch, reg), "eth"),
		indexer.PGCheckpoints{DB: pg}, indexer.RedisPublisher{Client: ie.redis}, indexer.NewMetrics(reg))

	nonces := map[common.Address]uint64{}
	pay := func(key *ecdsa.PrivateKey, to common.Address, wei int64) common.Hash {
		t.Helper()
		head, err := client.HeaderByNumber(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
			ChainID: big.NewInt(1337), Nonce: nonces[crypto.PubkeyToAddress(key.PublicKey)], GasTipCap: big.NewInt(params.GWei),
			GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), big.NewInt(params.GWei)),
			Gas:       21000, To: &to, Value: big.NewInt(wei),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		nonces[crypto.PubkeyToAddress(key.PublicKey)]++
		return tx.Hash()
	}
	sameAsSim := func() {
		t.Helper()
		head, err := client.BlockNumber(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := ie.canonicalHashes(t, "eth")
		if uint64(len(got)) != head+1 {
			t.Fatalf("index has %d canonical blocks, simulated chain %d", len(got), head+1)
		}
		for h := uint64(0); h <= head; h++ {
			b, err := client.HeaderByNumber(ctx, new(big.Int).SetUint64(h))
			if err != nil {
				t.Fatal(err)
			}
			if got[int64(h)] != b.Hash().Hex() && got[int64(h)] != strings.ToLower(b.Hash().Hex()) {
				t.Fatalf("height %d: index %s, chain %s", h, got[int64(h)], b.Hash().Hex())
			}
		}
	}

	// commit mines what the pool holds; the pool takes a transaction in asynchronously
	commit := func(tx common.Hash) common.Hash {
		t.Helper()
		for i := 0; i < 50; i++ {
			h := sim.Commit()
			if r, err := client.TransactionReceipt(ctx, tx); err == nil && r.BlockHash == h {
				return h
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("transaction %s never mined", tx)
		return common.Hash{}
	}
	alice := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	var hashes []common.Hash
	for i := 0; i < 5; i++ {
		hashes = append(hashes, commit(pay(key, alice, int64(1000+i))))
	}
	if err := f.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	sameAsSim()

	// fork after block 3: blocks 4 and 5 (and their payments to alice) leave the chain
	if err := sim.Fork(hashes[2]); err != nil {
		t.Fatal(err)
	}
	bob := common.HexToAddress("0x0000000000000000000000000000000000000b0b")
	for i := 0; i < 3; i++ {
		commit(pay(key2, bob, int64(2000+i)))
	}
	if err := f.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	sameAsSim()

	// readers see exactly the transactions of the simulated main chain:
	// none of the orphaned blocks' (alice's payments in old 4 and 5 may come
	// back in the new branch, then under its block hashes)
	head, err := client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for h := uint64(1); h <= head; h++ {
		b, err := client.BlockByNumber(ctx, new(big.Int).SetUint64(h))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			want = append(want, strings.ToLower(tx.Hash().Hex())+"@"+strings.ToLower(b.Hash().Hex()))
		}
	}
	rows, err := ie.ch.Query(ctx, "SELECT hash, block_hash FROM eth_transactions WHERE "+store.CanonicalFilter+" ORDER BY block_height, tx_index", "eth", "eth", "eth")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var h, bh string
		if err := rows.Scan(&h, &bh); err != nil {
			t.Fatal(err)
		}
		got = append(got, h+"@"+bh)
	}
	rows.Close()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("canonical transactions\n got %v\nwant %v", got, want)
	}
	var bobs uint64
	if err := ie.ch.QueryRow(ctx, "SELECT count() FROM eth_transactions WHERE to_address = ? AND "+store.CanonicalFilter,
		strings.ToLower(bob.Hex()), "eth", "eth", "eth").Scan(&bobs); err != nil || bobs != 3 {
		t.Fatalf("bob's payments: %d, %v", bobs, err)
	}
}
