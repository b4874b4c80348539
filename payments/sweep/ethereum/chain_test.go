package ethsweep

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose
	"github.com/pressly/goose/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

// env is one test's chain, ledger and fresh seed.
type env struct {
	t        *testing.T
	ctx      context.Context
	rpcURL   string
	dev      string // the node's funded, unlocked account
	usdt     string
	db       *pgxpool.Pool
	seed     keys.Seed
	c        *Chain
	rpc      *jsonrpc.Client
	registry *prometheus.Registry
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, rpcURL: testenv.Get(t, "SLUICE_ETH_RPC"), dev: testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT"),
		usdt: testenv.Get(t, "SLUICE_USDT_CONTRACT")}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	dsn := testenv.FreshPostgres(t)
	migrate(t, dsn)
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e.db = db
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if e.seed, err = keys.ParseSeed(hex.EncodeToString(b)); err != nil {
		t.Fatal(err)
	}
	node, err := rpc.DialContext(ctx, e.rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	e.registry = prometheus.NewRegistry()
	e.c, err = New(ctx, node, db, e.seed, Config{Network: "dev", Tokens: []Token{{Symbol: "USDT", Contract: e.usdt, Decimals: 6, KeyBranch: 1}},
		GasTankLow: big.NewInt(1e17), Metrics: NewMetrics(e.registry)})
	if err != nil {
		t.Fatal(err)
	}
	if e.rpc, err = jsonrpc.New(e.rpcURL); err != nil {
		t.Fatal(err)
	}
	return e
}

// migrate applies the ledger's migrations (schema/postgres) as sluice
// migrate does, without ClickHouse.
func migrate(t *testing.T, dsn string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(filepath.Join(testenv.RepoRoot(t), "schema", "postgres")),
		goose.WithTableName("sluice_schema_migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func freshAddress() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return common.BytesToAddress(b).Hex()
}

// fund sends wei from the dev account and waits for it to be mined.
func (e *env) fund(to string, wei *big.Int) {
	e.t.Helper()
	var h string
	if err := e.rpc.Call(e.ctx, "eth_sendTransaction", &h, map[string]string{"from": e.dev, "to": to, "value": hexutil.EncodeBig(wei)}); err != nil {
		e.t.Fatal(err)
	}
	e.mined(h)
}

// mined waits for the receipt of txid and returns it.
func (e *env) mined(txid string) devnet.Receipt {
	e.t.Helper()
	r, err := devnet.WaitReceipt(e.ctx, e.rpcURL, txid)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) balance(addr string) *big.Int {
	e.t.Helper()
	b, err := e.c.eth.BalanceAt(e.ctx, common.HexToAddress(addr), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) tokens(addr string) *big.Int {
	e.t.Helper()
	b, err := devnet.BalanceOf(e.ctx, e.rpcURL, e.usdt, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// store records a signed job in the sweeps table as the runner does.
func (e *env) store(j *sweep.Job, state string) {
	e.t.Helper()
	err := e.db.QueryRow(e.ctx, `INSERT INTO sweeps (chain, currency, kind, state, destination, amount, fee_service, fee_address,
			fee_network, from_address, nonce, raw_tx, txid) VALUES ('eth', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		j.Currency, j.Kind, state, j.Destination, j.Amount.String(), serviceFee(j).String(), j.FeeAddress, j.FeeNetwork.String(),
		j.From, int64(*j.Nonce), j.RawTx, j.TxID).Scan(&j.ID)
	if err != nil {
		e.t.Fatal(err)
	}
}

// send signs job, stores it, broadcasts it twice and waits until it is confirmed.
func (e *env) send(j *sweep.Job) {
	e.t.Helper()
	if err := e.c.Sign(e.ctx, j); err != nil {
		e.t.Fatalf("sign %s %s: %v", j.Kind, j.Currency, err)
	}
	e.store(j, sweep.StateSigned)
	e.broadcast(j)
}

func (e *env) broadcast(j *sweep.Job) {
	e.t.Helper()
	for i := 0; i < 2; i++ { // the second is a crash's repeat: the node has it already
		if err := e.c.Broadcast(e.ctx, j.RawTx); err != nil {
			e.t.Fatalf("broadcast #%d of %s: %v", i+1, j.TxID, err)
		}
	}
	e.mined(j.TxID)
	e.confirmed(j.TxID)
	if err := e.c.Broadcast(e.ctx, j.RawTx); err != nil { // and once mined
		e.t.Fatalf("broadcast of mined %s: %v", j.TxID, err)
	}
	if _, err := e.db.Exec(e.ctx, "UPDATE sweeps SET state = 'confirmed' WHERE id = $1", j.ID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) confirmed(txid string) {
	e.t.Helper()
	confs, known, err := e.c.Confirmations(e.ctx, txid)
	if err != nil || !known || confs < 1 {
		e.t.Fatalf("Confirmations(%s) = %d, %v, %v; want at least 1, known", txid, confs, known, err)
	}
}

func (e *env) deposit(cur keys.Currency, account, index uint32) sweep.Input {
	e.t.Helper()
	a, err := e.seed.Address(cur, "dev", account, index)
	if err != nil {
		e.t.Fatal(err)
	}
	return sweep.Input{Address: a, Currency: string(cur), Account: account, Index: index}
}

func eth(milli int64) *big.Int { return new(big.Int).Mul(big.NewInt(milli), big.NewInt(1e15)) }

// TestSweepETH sweeps an ETH deposit address to a fresh destination: the
// destination gets exactly Amount = Gross - FeeNetwork, the address keeps
// only the gas it reserved and did not burn, and broadcasting again is
// harmless.
func TestSweepETH(t *testing.T) {
	e := setup(t)
	in := e.deposit(keys.ETH, 7, 3)
	gross := eth(50)
	e.fund(in.Address, gross)
	dest := freshAddress()
	job := &sweep.Job{Chain: "eth", Currency: "ETH", Kind: sweep.KindSettle, Destination: dest, Gross: gross,
		FeeService: new(big.Int), Inputs: []sweep.Input{in}}
	if err := e.c.Sign(e.ctx, job); err != nil {
		t.Fatal(err)
	}
	if job.From != in.Address || job.Nonce == nil || *job.Nonce != 0 {
		t.Fatalf("from %s nonce %v, want %s and 0", job.From, job.Nonce, in.Address)
	}
	tx, err := decodeTx(job.RawTx)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Type() != types.DynamicFeeTxType || tx.Gas() != TransferGas || tx.Hash().Hex() != job.TxID {
		t.Fatalf("type %d gas %d hash %s (job %s)", tx.Type(), tx.Gas(), tx.Hash().Hex(), job.TxID)
	}
	if want := new(big.Int).Mul(big.NewInt(TransferGas), tx.GasFeeCap()); job.FeeNetwork.Cmp(want) != 0 {
		t.Errorf("FeeNetwork %s, want 21000 × maxFeePerGas = %s", job.FeeNetwork, want)
	}
	if sum := new(big.Int).Add(job.Amount, job.FeeNetwork); sum.Cmp(gross) != 0 || tx.Value().Cmp(job.Amount) != 0 {
		t.Errorf("Amount %s + FeeNetwork %s != Gross %s (value %s)", job.Amount, job.FeeNetwork, gross, tx.Value())
	}
	// the ledger has the signed job before it is sent
	e.store(job, sweep.StateSigned)
	if confs, known, err := e.c.Confirmations(e.ctx, job.TxID); err != nil || known || confs != 0 {
		t.Fatalf("before broadcast: %d %v %v; want unknown", confs, known, err)
	}
	e.broadcast(job)
	if got := e.balance(dest); got.Cmp(job.Amount) != 0 {
		t.Errorf("the destination has %s wei, want exactly %s", got, job.Amount)
	}
	paid, err := e.c.NetworkFee(e.ctx, job.TxID)
	if err != nil {
		t.Fatal(err)
	}
	if paid.Sign() <= 0 || paid.Cmp(job.FeeNetwork) > 0 {
		t.Errorf("paid %s wei of gas, reserved %s", paid, job.FeeNetwork)
	}
	dust := new(big.Int).Sub(job.FeeNetwork, paid)
	if got := e.balance(in.Address); got.Cmp(dust) != 0 {
		t.Errorf("the deposit address keeps %s wei, want the unburnt reservation %s", got, dust)
	}
	t.Logf("swept %s wei, gas reserved %s, paid %s, dust %s", job.Amount, job.FeeNetwork, paid, dust)

	// another transaction with the used nonce is refused for what it is
	other := &types.DynamicFeeTx{ChainID: e.c.chainID, Nonce: 0, GasTipCap: tx.GasTipCap(), GasFeeCap: tx.GasFeeCap(),
		Gas: TransferGas, To: tx.To(), Value: big.NewInt(1)}
	key, err := e.seed.PrivateKey(keys.ETH, "dev", 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	stx, err := e.c.sign(key, other)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := stx.MarshalBinary()
	if err := e.c.Broadcast(e.ctx, hexutil.Encode(raw)); !errors.Is(err, ErrNonceTaken) {
		t.Errorf("a second transaction with nonce 0: %v; want ErrNonceTaken", err)
	}
	if confs, known, err := e.c.Confirmations(e.ctx, "0x"+strings.Repeat("ab", 32)); err != nil || known || confs != 0 {
		t.Errorf("an unknown transaction: %d %v %v", confs, known, err)
	}
	if _, err := e.c.NetworkFee(e.ctx, "0x"+strings.Repeat("ab", 32)); !errors.Is(err, ErrNotMined) {
		t.Errorf("NetworkFee of an unknown transaction: %v", err)
	}

	// what is left is dust: not worth a sweep
	job2 := &sweep.Job{Chain: "eth", Currency: "ETH", Kind: sweep.KindSettle, Destination: dest, Gross: dust,
		FeeService: new(big.Int), Inputs: []sweep.Input{in}}
	if err := e.c.Sign(e.ctx, job2); !errors.Is(err, sweep.ErrUneconomic) {
		t.Errorf("sweeping the dust: %v; want ErrUneconomic", err)
	}
}

// TestNonceManager: a sweep with a service fee and the job collecting the
// fee, from one address: the second gets the next nonce while the first is
// signed but not even broadcast (the ledger knows it, the node does not),
// and only what the first leaves.
func TestNonceManager(t *testing.T) {
	e := setup(t)
	in := e.deposit(keys.ETH, 8, 0)
	gross := eth(40)
	e.fund(in.Address, gross)
	dest, feeAddr := freshAddress(), freshAddress()
	job := &sweep.Job{Chain: "eth", Currency: "ETH", MerchantID: 1, Kind: sweep.KindForward, Destination: dest, Gross: gross,
		FeeService: eth(4), FeeAddress: feeAddr, Inputs: []sweep.Input{in}}
	if err := e.c.Sign(e.ctx, job); err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Sub(new(big.Int).Sub(gross, eth(4)), job.FeeNetwork); job.Amount.Cmp(want) != 0 {
		t.Fatalf("Amount %s, want Gross - FeeService - FeeNetwork = %s", job.Amount, want)
	}
	e.store(job, sweep.StateSigned)
	fee := FeeJob(job)
	if err := e.c.Sign(e.ctx, fee); err != nil {
		t.Fatal(err)
	}
	if *fee.Nonce != *job.Nonce+1 {
		t.Fatalf("nonces %d then %d, want consecutive", *job.Nonce, *fee.Nonce)
	}
	e.store(fee, sweep.StateSigned)
	// a third job from the address finds nothing left to spend
	third := &sweep.Job{Chain: "eth", Currency: "ETH", Kind: sweep.KindSettle, Destination: dest, Gross: eth(4),
		FeeService: new(big.Int), Inputs: []sweep.Input{in}}
	if err := e.c.Sign(e.ctx, third); err == nil || !strings.Contains(err.Error(), "to spend") || third.RawTx != "" {
		t.Fatalf("a third job signed over the reservations: %v", err)
	}
	// the fee job goes first: the node queues it behind the gap
	if err := e.c.Broadcast(e.ctx, fee.RawTx); err != nil {
		t.Fatal(err)
	}
	e.broadcast(job)
	e.mined(fee.TxID)
	e.confirmed(fee.TxID)
	if got := e.balance(dest); got.Cmp(job.Amount) != 0 {
		t.Errorf("the destination has %s wei, want %s", got, job.Amount)
	}
	if got := e.balance(feeAddr); got.Cmp(fee.Amount) != 0 || new(big.Int).Add(fee.Amount, fee.FeeNetwork).Cmp(eth(4)) != 0 {
		t.Errorf("the fee address has %s wei, want %s = FeeService - its gas %s", got, fee.Amount, fee.FeeNetwork)
	}
	// a failed or replaced job's nonce is free again; a live one is not
	if _, err := e.db.Exec(e.ctx, "UPDATE sweeps SET state = 'broadcast', nonce = 9 WHERE id = $1", job.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.c.nextNonce(e.ctx, common.HexToAddress(in.Address)); err != nil || n != 10 {
		t.Errorf("next nonce after a live 9: %d %v", n, err)
	}
	if _, err := e.db.Exec(e.ctx, "UPDATE sweeps SET state = 'failed' WHERE id = $1", job.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.c.nextNonce(e.ctx, common.HexToAddress(in.Address)); err != nil || n != 2 {
		t.Errorf("next nonce with 9 failed and 2 mined: %d %v", n, err)
	}
}

// TestSweepUSDT: a USDT deposit address without ETH waits for gas; the gas
// tank tops it up; the token sweep then moves exactly Gross - FeeService to
// the destination, and the fee job the fee, with the gas of the same top-up.
func TestSweepUSDT(t *testing.T) {
	e := setup(t)
	in := e.deposit(keys.USDT, 7, 4)
	gross := big.NewInt(25_000_000) // 25 USDT
	if _, err := devnet.Mint(e.ctx, e.rpcURL, e.dev, e.usdt, in.Address, gross); err != nil {
		t.Fatal(err)
	}
	dest, feeAddr := freshAddress(), freshAddress()
	job := &sweep.Job{ID: 1000, Chain: "eth", Currency: "USDT", MerchantID: 1, Kind: sweep.KindSettle, Destination: dest,
		Gross: gross, FeeService: big.NewInt(1_000_000), FeeAddress: feeAddr, Inputs: []sweep.Input{in}}
	if err := e.c.Sign(e.ctx, job); !errors.Is(err, sweep.ErrWait) {
		t.Fatalf("Sign without gas: %v; want ErrWait", err)
	}

	// the gas tank is empty: the gauges say so, and the top-up cannot be signed
	if _, low, err := e.c.CheckGasTank(e.ctx); err != nil || !low {
		t.Fatalf("an empty gas tank: low %v, %v", low, err)
	}
	if v := testutil.ToFloat64(e.c.cfg.Metrics.TankLow.WithLabelValues("eth")); v != 1 {
		t.Errorf("sluice_gas_tank_low %v, want 1", v)
	}
	gas, err := e.c.GasTopUp(e.ctx, job)
	if err != nil || gas == nil {
		t.Fatalf("GasTopUp = %v, %v", gas, err)
	}
	if gas.Kind != sweep.KindGas || gas.Currency != "ETH" || gas.Destination != in.Address || gas.Gross.Sign() <= 0 {
		t.Fatalf("gas job %+v", gas)
	}
	if err := e.c.Sign(e.ctx, gas); err == nil || errors.Is(err, sweep.ErrWait) || !strings.Contains(err.Error(), "refill") {
		t.Fatalf("a top-up from an empty tank: %v", err)
	}
	tank := e.c.GasTank()
	e.fund(tank, eth(1000))
	bal, low, err := e.c.CheckGasTank(e.ctx)
	if err != nil || low || bal.Cmp(eth(1000)) != 0 {
		t.Fatalf("a funded gas tank: %s %v %v", bal, low, err)
	}
	if v := testutil.ToFloat64(e.c.cfg.Metrics.TankBalance.WithLabelValues("eth")); v != 1e18 {
		t.Errorf("sluice_gas_tank_balance_wei %v, want 1e18", v)
	}
	e.send(gas)
	if got := e.balance(in.Address); got.Cmp(gas.Amount) != 0 {
		t.Fatalf("the deposit address got %s wei of gas, want %s", got, gas.Amount)
	}

	e.send(job)
	if job.Amount.Int64() != 24_000_000 {
		t.Errorf("Amount %s, want Gross - FeeService = 24000000", job.Amount)
	}
	if got := e.tokens(dest); got.Cmp(job.Amount) != 0 {
		t.Errorf("the destination has %s USDT units, want %s", got, job.Amount)
	}
	fee := FeeJob(job)
	e.send(fee)
	if got := e.tokens(feeAddr); got.Int64() != 1_000_000 || fee.Amount.Int64() != 1_000_000 {
		t.Errorf("the fee address has %s USDT units (job amount %s), want 1000000", got, fee.Amount)
	}
	if got := e.tokens(in.Address); got.Sign() != 0 {
		t.Errorf("the deposit address keeps %s USDT units", got)
	}
	t.Logf("gas top-up %s wei; token transfers reserved %s + %s wei; the address keeps %s wei",
		gas.Amount, job.FeeNetwork, fee.FeeNetwork, e.balance(in.Address))
}

// TestRevertedTransfer: a token transfer of more than the address holds is
// refused by Sign; one that reverts on chain anyway is ErrReverted.
func TestRevertedTransfer(t *testing.T) {
	e := setup(t)
	in := e.deposit(keys.USDT, 9, 1)
	if _, err := devnet.Mint(e.ctx, e.rpcURL, e.dev, e.usdt, in.Address, big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	e.fund(in.Address, eth(10))
	dest := freshAddress()
	job := &sweep.Job{Chain: "eth", Currency: "USDT", Kind: sweep.KindSettle, Destination: dest, Gross: big.NewInt(2_000_000),
		FeeService: new(big.Int), Inputs: []sweep.Input{in}}
	if err := e.c.Sign(e.ctx, job); err == nil || errors.Is(err, sweep.ErrWait) || !strings.Contains(err.Error(), "holds 1000000") {
		t.Fatalf("Sign over the balance: %v", err)
	}
	// the same transfer signed past Sign's checks, with a fixed gas limit
	data, err := transferCalldata(common.HexToAddress(dest), big.NewInt(2_000_000))
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.seed.PrivateKey(keys.USDT, "dev", 9, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.c.state(e.ctx, common.HexToAddress(in.Address))
	if err != nil {
		t.Fatal(err)
	}
	token := common.HexToAddress(e.usdt)
	tx, err := e.c.sign(key, &types.DynamicFeeTx{ChainID: e.c.chainID, Nonce: s.nonce, GasTipCap: s.fees.Tip, GasFeeCap: s.fees.Max,
		Gas: 100_000, To: &token, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	if err := e.c.Broadcast(e.ctx, hexutil.Encode(raw)); err != nil {
		t.Fatal(err)
	}
	if r := e.mined(tx.Hash().Hex()); r.Status != 0 {
		t.Fatalf("the transfer did not revert: %+v", r)
	}
	confs, known, err := e.c.Confirmations(e.ctx, tx.Hash().Hex())
	if !errors.Is(err, ErrReverted) || !known || confs < 1 {
		t.Fatalf("Confirmations of a reverted transfer = %d, %v, %v; want ErrReverted", confs, known, err)
	}
	// and the transfer that fits succeeds, its Transfer log checked
	job.Gross = big.NewInt(1_000_000)
	e.send(job)
	if got := e.tokens(dest); got.Int64() != 1_000_000 {
		t.Errorf("the destination has %s", got)
	}
}

// TestRunner drives the sweep runner with this Chain over a real ledger: a
// confirmed USDT deposit (with a 4% service fee) gets its gas top-up from the
// tank, then is swept; a confirmed ETH deposit is swept in one job. The
// service fees stay at the deposit addresses until the runner plans FeeJob.
func TestRunner(t *testing.T) {
	e := setup(t)
	usdtIn, ethIn := e.deposit(keys.USDT, 11, 2), e.deposit(keys.ETH, 11, 5)
	usdtGross, ethGross := big.NewInt(25_000_000), eth(30)
	mint, err := devnet.Mint(e.ctx, e.rpcURL, e.dev, e.usdt, usdtIn.Address, usdtGross)
	if err != nil {
		t.Fatal(err)
	}
	e.fund(ethIn.Address, ethGross)
	e.fund(e.c.GasTank(), eth(1000))
	dest, feeAddr := freshAddress(), freshAddress()
	var merchant int64
	if err := e.db.QueryRow(e.ctx, "INSERT INTO merchants (name, key_account) VALUES ('runner test', 11) RETURNING id").Scan(&merchant); err != nil {
		t.Fatal(err)
	}
	for i, d := range []struct {
		in     sweep.Input
		amount *big.Int
		txid   string
	}{{usdtIn, usdtGross, mint}, {ethIn, ethGross, "0x" + strings.Repeat("01", 32)}} {
		var wallet int64
		if err := e.db.QueryRow(e.ctx, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
			VALUES ($1, $2, $3, 'eth', $4, $5) RETURNING id`, merchant, d.in.Currency, "w"+d.in.Currency, d.in.Address, d.in.Index).Scan(&wallet); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Exec(e.ctx, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, status, confirmations)
			VALUES ($1, 'eth', $2, $3, $4, $5, 1, 12)`, wallet, d.in.Currency, d.txid, "log:"+string(rune('0'+i)), d.amount.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Exec(e.ctx, `INSERT INTO merchant_settlements (merchant_id, currency, address, fee_percent)
			VALUES ($1, $2, $3, 0.04)`, merchant, d.in.Currency, dest); err != nil {
			t.Fatal(err)
		}
	}
	r := &sweep.Runner{DB: e.db, Chain: "eth", Impl: e.c, Log: slog.New(slog.DiscardHandler), Confirmations: 1,
		Operator: sweep.Operator{FeeAddress: map[string]string{"ETH": feeAddr, "USDT": feeAddr}}}
	type row struct {
		kind, currency, state, from, amount, fee, net string
		nonce                                         *int64
		after                                         int64
	}
	var rows map[string]row
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := r.Round(e.ctx); err != nil {
			t.Logf("round: %v", err)
		}
		rows = map[string]row{}
		q, err := e.db.Query(e.ctx, `SELECT kind, currency, state, from_address, amount::text, fee_service::text, fee_network::text,
			nonce, coalesce(after_sweep, 0) FROM sweeps ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for q.Next() {
			var w row
			if err := q.Scan(&w.kind, &w.currency, &w.state, &w.from, &w.amount, &w.fee, &w.net, &w.nonce, &w.after); err != nil {
				t.Fatal(err)
			}
			rows[w.kind+" "+w.currency] = w
			if w.state == sweep.StateConfirmed {
				done++
			}
		}
		q.Close()
		if done == 5 { // the gas top-up, the two sweeps, and their fee collections
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeps not confirmed in time: %+v", rows)
		}
		time.Sleep(500 * time.Millisecond)
	}
	gas, tok, ether := rows["gas ETH"], rows["settle USDT"], rows["settle ETH"]
	if len(rows) != 5 || gas.from != e.c.GasTank() || tok.from != usdtIn.Address || ether.from != ethIn.Address || tok.after == 0 {
		t.Fatalf("sweeps %+v", rows)
	}
	if tok.amount != "24000000" || tok.fee != "1000000" || *tok.nonce != 0 || *ether.nonce != 0 {
		t.Errorf("USDT sweep %+v", tok)
	}
	if got := e.tokens(dest); got.Int64() != 24_000_000 {
		t.Errorf("the destination has %s USDT units, want 24000000", got)
	}
	// the runner collected the fees from the deposit addresses afterwards
	if got := e.tokens(usdtIn.Address); got.Sign() != 0 {
		t.Errorf("the USDT deposit address keeps %s units after the fee collection, want 0", got)
	}
	if got := e.tokens(feeAddr); got.Int64() != 1_000_000 {
		t.Errorf("the fee address has %s USDT units, want 1000000", got)
	}
	if f := rows["fee ETH"]; f.state != sweep.StateConfirmed || f.after == 0 {
		t.Errorf("ETH fee collection %+v", f)
	}
	net, _ := new(big.Int).SetString(ether.net, 10)
	fee := new(big.Int).Div(new(big.Int).Mul(ethGross, big.NewInt(4)), big.NewInt(100))
	want := new(big.Int).Sub(new(big.Int).Sub(ethGross, fee), net)
	if got := e.balance(dest); ether.amount != want.String() || got.Cmp(want) != 0 {
		t.Errorf("the destination has %s wei (ledger %s), want %s", got, ether.amount, want)
	}
}

// TestWithdraw: the hot wallet pays withdrawals exactly, the gas on top,
// its token withdrawals' gas from its own ETH.
func TestWithdraw(t *testing.T) {
	e := setup(t)
	hot := e.c.HotWallet()
	e.fund(hot, eth(20))
	dest := freshAddress()
	w := &sweep.Job{Chain: "eth", Currency: "ETH", MerchantID: 1, Kind: sweep.KindWithdraw, Destination: dest, Gross: eth(5),
		FeeService: big.NewInt(123)} // a withdrawal takes no service fee
	e.send(w)
	if w.From != hot || w.Amount.Cmp(eth(5)) != 0 || e.balance(dest).Cmp(eth(5)) != 0 {
		t.Fatalf("withdrawal from %s of %s; the destination has %s", w.From, w.Amount, e.balance(dest))
	}
	over := &sweep.Job{Chain: "eth", Currency: "ETH", Kind: sweep.KindWithdraw, Destination: dest, Gross: eth(20)}
	if err := e.c.Sign(e.ctx, over); err == nil || !strings.Contains(err.Error(), "hot wallet") {
		t.Fatalf("a withdrawal over the hot wallet's balance: %v", err)
	}
	if _, err := devnet.Mint(e.ctx, e.rpcURL, e.dev, e.usdt, hot, big.NewInt(5_000_000)); err != nil {
		t.Fatal(err)
	}
	tw := &sweep.Job{Chain: "eth", Currency: "USDT", Kind: sweep.KindWithdraw, Destination: dest, Gross: big.NewInt(3_000_000)}
	if g, err := e.c.GasTopUp(e.ctx, tw); err != nil || g != nil {
		t.Fatalf("the hot wallet has ETH for gas, yet GasTopUp = %+v, %v", g, err)
	}
	e.send(tw)
	if tw.From != hot || tw.Amount.Int64() != 3_000_000 || e.tokens(dest).Int64() != 3_000_000 || e.tokens(hot).Int64() != 2_000_000 {
		t.Fatalf("token withdrawal from %s of %s: destination %s, hot wallet %s", tw.From, tw.Amount, e.tokens(dest), e.tokens(hot))
	}
}

// TestNewRefusesSharedKeyBranches: each token needs a key branch of its own,
// apart from ETH's 0, or two currencies' deposits would share addresses.
func TestNewRefusesSharedKeyBranches(t *testing.T) {
	e := setup(t)
	node, err := rpc.DialContext(e.ctx, e.rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	usdt := Token{Symbol: "USDT", Contract: e.usdt, Decimals: 6, KeyBranch: 1}
	usdc := Token{Symbol: "USDC", Contract: freshAddress(), Decimals: 6, KeyBranch: 2}
	for _, c := range []struct {
		name   string
		tokens []Token
		want   string // "" when taken
	}{
		{"USDT and USDC", []Token{usdt, usdc}, ""},
		{"no branch", []Token{{Symbol: "USDT", Contract: e.usdt, Decimals: 6}}, "token USDT: key branch 0 is ETH's"},
		{"one branch", []Token{usdt, {Symbol: "USDC", Contract: usdc.Contract, Decimals: 6, KeyBranch: 1}}, "token USDC: key branch 1 is USDT's"},
		{"hardened branch", []Token{{Symbol: "USDC", Contract: usdc.Contract, Decimals: 6, KeyBranch: 1 << 31}}, "branch 2147483648 is out of range"},
	} {
		_, err := New(e.ctx, node, e.db, e.seed, Config{Network: "dev", Tokens: c.tokens})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestNativeCoin: a chain whose coin is not ETH (Config.Native, an EVM chain
// other than Ethereum) sweeps its coin on key branch 0, tops token deposit
// addresses up in it, reports the hot wallet's coin under its code, and knows
// no ETH; Config.ChainID replaces the network's chain id in New's check.
func TestNativeCoin(t *testing.T) {
	e := setup(t)
	node, err := rpc.DialContext(e.ctx, e.rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	id, err := e.c.eth.ChainID(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	usdt := Token{Symbol: "USDT_TEST", Contract: e.usdt, Decimals: 6, KeyBranch: 1}
	cfg := Config{Chain: "poltest", Network: "dev", ChainID: id.Int64(), Native: " pol_test ", Tokens: []Token{usdt},
		Metrics: NewMetrics(e.registry)} // the second registration returns the first's collectors
	if cfg.Metrics.TankLow != e.c.cfg.Metrics.TankLow || cfg.Metrics.TankBalance != e.c.cfg.Metrics.TankBalance {
		t.Fatal("NewMetrics twice with one registry made new collectors")
	}

	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"another chain id", Config{Chain: "poltest", Network: "dev", ChainID: 137, Native: "POL_TEST"},
			"the node has chain id " + id.String() + ", but chain poltest is configured as chain id 137"},
		{"a negative chain id", Config{Chain: "poltest", Network: "dev", ChainID: -1, Native: "POL_TEST"}, "chain id -1"},
		{"a token named as the coin", Config{Chain: "poltest", Network: "dev", ChainID: id.Int64(), Native: "POL_TEST",
			Tokens: []Token{{Symbol: "pol_test", Contract: e.usdt, Decimals: 6, KeyBranch: 1}}}, "the chain's coin POL_TEST"},
		{"a branch 0 token", Config{Chain: "poltest", Network: "dev", ChainID: id.Int64(), Native: "POL_TEST",
			Tokens: []Token{{Symbol: "USDT_TEST", Contract: e.usdt, Decimals: 6}}}, "key branch 0 is POL_TEST's"},
	} {
		if _, err := New(e.ctx, node, e.db, e.seed, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// ETH is a token symbol like any other where the coin is not ETH
	if _, err := New(e.ctx, node, e.db, e.seed, Config{Chain: "poltest", Network: "dev", ChainID: id.Int64(), Native: "POL_TEST",
		Tokens: []Token{{Symbol: "ETH", Contract: freshAddress(), Decimals: 18, KeyBranch: 4}}}); err != nil {
		t.Errorf("a token ETH on a POL_TEST chain: %v", err)
	}

	c, err := New(e.ctx, node, e.db, e.seed, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Native() != "POL_TEST" {
		t.Fatalf("Native() = %q", c.Native())
	}
	if e.c.Native() != "ETH" {
		t.Errorf("Native() without Config.Native = %q, want ETH", e.c.Native())
	}

	// a coin sweep: the ETH-style transfer from the branch 0 deposit key
	in := e.deposit(keys.ETH, 9, 1) // branch 0: the coin's deposit address on every EVM chain
	in.Currency = "POL_TEST"
	e.fund(in.Address, eth(20))
	dest := freshAddress()
	job := &sweep.Job{Chain: "poltest", Currency: "POL_TEST", Kind: sweep.KindSettle, Destination: dest, Gross: eth(20),
		FeeService: new(big.Int), Inputs: []sweep.Input{in}}
	if gas, err := c.GasTopUp(e.ctx, job); err != nil || gas != nil {
		t.Errorf("GasTopUp of a coin sweep = %v, %v; want none", gas, err)
	}
	if err := c.Sign(e.ctx, job); err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(e.ctx, job.RawTx); err != nil {
		t.Fatal(err)
	}
	e.mined(job.TxID)
	if got := e.balance(dest); got.Cmp(job.Amount) != 0 || new(big.Int).Add(job.Amount, job.FeeNetwork).Cmp(eth(20)) != 0 {
		t.Errorf("the destination has %s wei; job amount %s, network fee %s of 20 milli", got, job.Amount, job.FeeNetwork)
	}
	// ETH is not this chain's coin, nor a configured token
	ethJob := &sweep.Job{Chain: "poltest", Currency: "ETH", Kind: sweep.KindSettle, Destination: dest, Gross: eth(1),
		FeeService: new(big.Int), Inputs: []sweep.Input{{Address: in.Address, Currency: "ETH", Account: 9, Index: 1}}}
	if err := c.Sign(e.ctx, ethJob); err == nil || !strings.Contains(err.Error(), `no token "ETH" is configured on poltest`) {
		t.Errorf("an ETH sweep on a POL_TEST chain: %v", err)
	}

	// a token sweep's gas top-up is in the chain's coin
	tin := e.deposit(keys.USDT, 9, 2)
	tin.Currency = "USDT_TEST"
	if _, err := devnet.Mint(e.ctx, e.rpcURL, e.dev, e.usdt, tin.Address, big.NewInt(5_000_000)); err != nil {
		t.Fatal(err)
	}
	tjob := &sweep.Job{Chain: "poltest", Currency: "USDT_TEST", Kind: sweep.KindSettle, Destination: dest,
		Gross: big.NewInt(5_000_000), FeeService: new(big.Int), Inputs: []sweep.Input{tin}}
	if err := c.Sign(e.ctx, tjob); !errors.Is(err, sweep.ErrWait) {
		t.Fatalf("a token sweep without gas: %v; want ErrWait", err)
	}
	gas, err := c.GasTopUp(e.ctx, tjob)
	if err != nil || gas == nil {
		t.Fatalf("GasTopUp = %v, %v", gas, err)
	}
	if gas.Currency != "POL_TEST" || gas.Chain != "poltest" || gas.Kind != sweep.KindGas || gas.Destination != tin.Address || gas.Gross.Sign() <= 0 {
		t.Errorf("gas job %+v; want a POL_TEST top-up on poltest", gas)
	}
	if _, err := c.WithdrawalFeeQuote(e.ctx, "POL_TEST"); err != nil {
		t.Errorf("WithdrawalFeeQuote(POL_TEST): %v", err)
	}

	// the hot wallet's coin is reported under its code
	e.fund(c.HotWallet(), eth(3))
	bal, err := c.HotBalances(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bal["ETH"]; ok || bal["POL_TEST"] == nil || bal["POL_TEST"].Cmp(eth(3)) != 0 || bal["USDT_TEST"] == nil {
		t.Errorf("HotBalances = %v; want POL_TEST 3e15 and USDT_TEST, no ETH", bal)
	}

	// the gauges are the chain's
	if _, _, err := c.CheckGasTank(e.ctx); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(c.cfg.Metrics.TankLow.WithLabelValues("poltest")); v != 1 {
		t.Errorf("sluice_gas_tank_low{chain=poltest} %v, want 1 (an empty tank)", v)
	}
	if n := testutil.CollectAndCount(c.cfg.Metrics.TankBalance); n != 1 {
		t.Errorf("%d sluice_gas_tank_balance_wei series, want poltest's alone", n)
	}
}
