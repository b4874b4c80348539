package ethsweep

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	ethindex "github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

// Token is an ERC-20 token sluice sweeps (config chains.eth.tokens).
type Token struct {
	Symbol   string // the ledger's currency, e.g. USDT
	Contract string // 0x address
	Decimals int
	// KeyBranch is the BIP44 change level of the token's deposit keys (the
	// registry's Currency.KeyBranch: USDT 1, USDC 2); never 0, the chain's
	// own coin's, and never another token's.
	KeyBranch uint32
}

// Config is what New needs besides the node, the ledger and the seed.
type Config struct {
	// Chain is the ledger's name of the chain (sweeps.chain), "eth" when empty.
	Chain string
	// Network is mainnet, sepolia, holesky or dev: the keys are derived for
	// it, and the node's chain id is checked against its id unless ChainID
	// is set.
	Network string
	// ChainID, when positive, is the chain id the node must report
	// (eth_chainId) instead of the network's: an EVM chain other than
	// Ethereum (config chains.evm.<key>.chain_id).
	ChainID int64
	// Native is the currency code of the chain's own coin, which pays the
	// gas and which gas top-ups, the hot wallet's coin balance and coin
	// sweeps are in: the registry's Chain.Native, e.g. POL_POLYGON; "ETH"
	// when empty.
	Native string
	Tokens []Token
	// MaxFeePerGas caps maxFeePerGas, in wei (DefaultMaxFeePerGas when nil).
	MaxFeePerGas *big.Int
	// GasTankLow is the gas tank balance, in wei, under which it is low
	// (DefaultGasTankLow when nil).
	GasTankLow *big.Int
	Metrics    *Metrics     // may be nil
	Log        *slog.Logger // may be nil
}

// Errors a caller tells apart.
var (
	// ErrReverted: the transaction was mined and failed (receipt status 0),
	// or succeeded without the token's Transfer log. Its nonce and gas are
	// spent; the job has to fail and its deposits be swept again.
	ErrReverted = sweep.ErrReverted
	// ErrNonceTaken: another transaction from the same address was mined
	// with this one's nonce, so this one can never be.
	ErrNonceTaken = sweep.ErrNonceTaken
	// ErrNotMined: the node has no receipt of the transaction (yet).
	ErrNotMined = errors.New("the transaction is not mined")
)

// Chain signs, broadcasts and follows Ethereum sweeps: a sweep.Chain and a
// sweep.GasTopper. It is safe for concurrent use.
type Chain struct {
	cfg        Config
	eth        *ethclient.Client
	db         Ledger
	seed       keys.Seed
	chainID    *big.Int
	signer     types.Signer
	tokens     map[string]Token // by upper-case symbol
	byContract map[common.Address]Token
	tank, hot  common.Address
	log        *slog.Logger
}

var (
	_ sweep.Chain     = (*Chain)(nil)
	_ sweep.GasTopper = (*Chain)(nil)
)

// New checks that the node serves cfg.ChainID (cfg.Network's chain id when
// it is 0) and returns the Chain. node
// is a go-ethereum RPC client (http, ws or in-process); db is the ledger (a
// *pgxpool.Pool) the nonce manager reads the sweeps table from.
func New(ctx context.Context, node *rpc.Client, db Ledger, seed keys.Seed, cfg Config) (*Chain, error) {
	if node == nil || db == nil {
		return nil, errors.New("ethsweep: a node and a ledger are required")
	}
	if cfg.Chain == "" {
		cfg.Chain = defaultChain
	}
	cfg.Network = strings.ToLower(strings.TrimSpace(cfg.Network))
	want, ok := ethindex.ChainIDs[cfg.Network]
	if !ok {
		return nil, fmt.Errorf("ethsweep: unknown Ethereum network %q", cfg.Network)
	}
	wantWhat := "network " + cfg.Network + " is"
	switch {
	case cfg.ChainID > 0:
		want, wantWhat = cfg.ChainID, "chain "+cfg.Chain+" is configured as"
	case cfg.ChainID < 0:
		return nil, fmt.Errorf("ethsweep: chain id %d: want a positive one", cfg.ChainID)
	}
	cfg.Native = strings.ToUpper(strings.TrimSpace(cfg.Native))
	if cfg.Native == "" {
		cfg.Native = defaultNative
	}
	if cfg.MaxFeePerGas == nil {
		cfg.MaxFeePerGas = DefaultMaxFeePerGas
	}
	if cfg.MaxFeePerGas.Sign() <= 0 {
		return nil, fmt.Errorf("ethsweep: the maxFeePerGas ceiling must be positive, not %s", cfg.MaxFeePerGas)
	}
	if cfg.GasTankLow == nil {
		cfg.GasTankLow = DefaultGasTankLow
	}
	c := &Chain{cfg: cfg, eth: ethclient.NewClient(node), db: db, seed: seed, log: cfg.Log,
		tokens: map[string]Token{}, byContract: map[common.Address]Token{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	branches := map[uint32]string{0: cfg.Native}
	for _, t := range cfg.Tokens {
		sym := strings.ToUpper(strings.TrimSpace(t.Symbol))
		if sym == "" || sym == cfg.Native {
			return nil, fmt.Errorf("ethsweep: token %q: want a symbol other than the chain's coin %s", t.Symbol, cfg.Native)
		}
		if !common.IsHexAddress(t.Contract) || common.HexToAddress(t.Contract) == (common.Address{}) {
			return nil, fmt.Errorf("ethsweep: token %s: contract %q is not an address", sym, t.Contract)
		}
		if _, dup := c.tokens[sym]; dup {
			return nil, fmt.Errorf("ethsweep: token %s is configured twice", sym)
		}
		if other, taken := branches[t.KeyBranch]; taken {
			return nil, fmt.Errorf("ethsweep: token %s: key branch %d is %s's: give each token its own (the registry's Currency.KeyBranch)",
				sym, t.KeyBranch, other)
		}
		if _, err := c.keyScheme(t.KeyBranch).Path(0, 0); err != nil {
			return nil, fmt.Errorf("ethsweep: token %s: %w", sym, err)
		}
		branches[t.KeyBranch] = sym
		t.Symbol = sym
		c.tokens[sym] = t
		c.byContract[common.HexToAddress(t.Contract)] = t
	}
	var err error
	if c.tank, err = operatorAddress(seed, cfg.Chain, cfg.Network, GasTankAccount); err != nil {
		return nil, fmt.Errorf("ethsweep: gas tank: %w", err)
	}
	if c.hot, err = operatorAddress(seed, cfg.Chain, cfg.Network, HotWalletAccount); err != nil {
		return nil, fmt.Errorf("ethsweep: hot wallet: %w", err)
	}
	id, err := c.eth.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("ethsweep: chain id: %w", err)
	}
	if id.Cmp(big.NewInt(want)) != 0 {
		return nil, fmt.Errorf("ethsweep: the node has chain id %s, but %s chain id %d", id, wantWhat, want)
	}
	c.chainID = id
	c.signer = types.LatestSignerForChainID(id)
	return c, nil
}

// sender is who signs a job's transaction.
type sender struct {
	addr common.Address
	key  *keys.PrivateKey
	what string // for messages: "deposit address", "gas tank", "hot wallet"
}

// senderOf derives the key that signs job: the gas tank's for a gas top-up,
// the hot wallet's for a withdrawal, the deposit address's (from the inputs'
// account and index, checked against their address) for a sweep.
func (c *Chain) senderOf(job *sweep.Job) (sender, error) {
	switch job.Kind {
	case sweep.KindGas:
		k, err := c.seed.PrivateKeyFor(c.keyScheme(0), GasTankAccount, 0)
		return sender{addr: c.tank, key: k, what: "gas tank"}, err
	case sweep.KindWithdraw:
		k, err := c.seed.PrivateKeyFor(c.keyScheme(0), HotWalletAccount, 0)
		return sender{addr: c.hot, key: k, what: "hot wallet"}, err
	case sweep.KindSettle, sweep.KindHot, sweep.KindForward:
	default:
		return sender{}, fmt.Errorf("sweep %d: unknown kind %q", job.ID, job.Kind)
	}
	if len(job.Inputs) == 0 {
		return sender{}, fmt.Errorf("sweep %d: no inputs: a sweep needs the deposit address's derivation", job.ID)
	}
	in := job.Inputs[0]
	for _, o := range job.Inputs {
		if o.Currency != "" && !strings.EqualFold(o.Currency, job.Currency) {
			return sender{}, fmt.Errorf("sweep %d: a %s deposit (%d) in a %s sweep", job.ID, o.Currency, o.DepositID, job.Currency)
		}
	}
	for _, o := range job.Inputs[1:] {
		if !strings.EqualFold(o.Address, in.Address) || o.Account != in.Account || o.Index != in.Index {
			return sender{}, fmt.Errorf("sweep %d: inputs from %s and %s: an Ethereum sweep spends one address", job.ID, in.Address, o.Address)
		}
	}
	var branch uint32 // the chain's own coin's
	if !c.native(job.Currency, job.Kind) {
		t, err := c.tokenOf(job.Currency)
		if err != nil {
			return sender{}, fmt.Errorf("sweep %d: %w", job.ID, err)
		}
		branch = t.KeyBranch
	}
	k, err := c.seed.PrivateKeyFor(c.keyScheme(branch), in.Account, in.Index)
	if err != nil {
		return sender{}, fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	addr := addressOf(k)
	if !strings.EqualFold(addr.Hex(), in.Address) {
		return sender{}, fmt.Errorf("sweep %d: account %d index %d derives %s, but the deposit address is %s",
			job.ID, in.Account, in.Index, addr.Hex(), in.Address)
	}
	return sender{addr: addr, key: k, what: "deposit address"}, nil
}

// keyScheme is where this chain's keys of branch live: the operator's and
// the coin's deposit keys on 0, each token's on its KeyBranch.
func (c *Chain) keyScheme(branch uint32) keys.Scheme {
	return keys.Scheme{Family: keys.EVM, Chain: c.cfg.Chain, Network: c.cfg.Network, Branch: branch}
}

// native reports whether a job of currency and kind moves the chain's coin
// (Config.Native): a gas top-up does whatever currency it serves.
func (c *Chain) native(currency, kind string) bool {
	return kind == sweep.KindGas || strings.EqualFold(currency, c.Native())
}

// Native is the currency code of the chain's coin (Config.Native, ETH
// when empty).
func (c *Chain) Native() string {
	if c.cfg.Native == "" {
		return defaultNative
	}
	return c.cfg.Native
}

// tokenOf is the configured token of a job's currency.
func (c *Chain) tokenOf(currency string) (Token, error) {
	t, ok := c.tokens[strings.ToUpper(currency)]
	if !ok {
		return Token{}, fmt.Errorf("no token %q is configured on %s", currency, c.cfg.Chain)
	}
	return t, nil
}

// state is what signing reads of the chain and the ledger, at one head.
type state struct {
	head    *big.Int
	fees    fees
	balance *big.Int // wei at head
	mined   uint64   // transactions of the sender mined at head
	nonce   uint64   // the next nonce
	res     reserved // what its signed, unmined sweeps will take
}

// spendable is the wei at head that no pending sweep has claimed.
func (s state) spendable() *big.Int {
	v := new(big.Int).Sub(s.balance, s.res.Wei)
	if v.Sign() < 0 {
		v.SetInt64(0)
	}
	return v
}

func (c *Chain) state(ctx context.Context, addr common.Address) (state, error) {
	h, err := c.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return state{}, fmt.Errorf("head: %w", err)
	}
	tip, err := c.eth.SuggestGasTipCap(ctx)
	if err != nil {
		return state{}, fmt.Errorf("eth_maxPriorityFeePerGas: %w", err)
	}
	f, err := feeCaps(h.BaseFee, tip, c.cfg.MaxFeePerGas)
	if err != nil {
		return state{}, err
	}
	s := state{head: h.Number, fees: f}
	if s.balance, err = c.eth.BalanceAt(ctx, addr, h.Number); err != nil {
		return state{}, fmt.Errorf("balance of %s: %w", addr.Hex(), err)
	}
	if s.mined, err = c.eth.NonceAt(ctx, addr, h.Number); err != nil {
		return state{}, fmt.Errorf("nonce of %s: %w", addr.Hex(), err)
	}
	if s.nonce, err = c.nextNonce(ctx, addr); err != nil {
		return state{}, err
	}
	if s.res, err = c.reservedBy(ctx, addr, s.mined); err != nil {
		return state{}, err
	}
	return s, nil
}

// Sign builds and signs job's transaction: ETH jobs send value to the
// destination, token jobs call transfer(destination, amount) on the token.
// It sets From, Nonce, RawTx, TxID, Amount and FeeNetwork, and does not
// broadcast. A token job whose address lacks the ETH for its gas is ErrWait
// (GasTopUp plans the gas); fees above the ceiling are ErrWait; what would
// reach the destination being nothing is ErrUneconomic.
func (c *Chain) Sign(ctx context.Context, job *sweep.Job) error {
	if job == nil || job.Gross == nil || job.Gross.Sign() < 0 {
		return errors.New("sign: a job with a gross amount is required")
	}
	if !common.IsHexAddress(job.Destination) || common.HexToAddress(job.Destination) == (common.Address{}) {
		return fmt.Errorf("sweep %d: destination %q is not an Ethereum address", job.ID, job.Destination)
	}
	to := common.HexToAddress(job.Destination)
	feeService := serviceFee(job)
	from, err := c.senderOf(job)
	if err != nil {
		return err
	}
	if from.addr == to {
		return fmt.Errorf("sweep %d: the destination %s is the sending address", job.ID, to.Hex())
	}
	s, err := c.state(ctx, from.addr)
	if err != nil {
		return fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	var b built
	if c.native(job.Currency, job.Kind) {
		b, err = c.buildETH(ctx, job, from, to, feeService, s)
	} else {
		b, err = c.buildToken(ctx, job, from, to, feeService, s)
	}
	if err != nil {
		return fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	if job.Kind == sweep.KindWithdraw && job.FeeMax != nil {
		// never more than the merchant's balance holds for it, while that
		// still pays the current base fee and tip (else the runner waits)
		if f, ok := b.fees.affordable(b.gas, job.FeeMax); ok {
			b.fees = f
		}
	}
	tx, err := c.sign(from.key, &types.DynamicFeeTx{ChainID: c.chainID, Nonce: s.nonce, GasTipCap: b.fees.Tip, GasFeeCap: b.fees.Max,
		Gas: b.gas, To: &b.to, Value: b.value, Data: b.data})
	if err != nil {
		return fmt.Errorf("sweep %d: sign: %w", job.ID, err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return fmt.Errorf("sweep %d: encode: %w", job.ID, err)
	}
	nonce := s.nonce
	job.From, job.Nonce = from.addr.Hex(), &nonce
	job.RawTx, job.TxID = hexutil.Encode(raw), tx.Hash().Hex()
	job.Amount, job.FeeNetwork = b.amount, b.fees.cost(b.gas)
	c.log.Debug("eth sweep signed", "id", job.ID, "kind", job.Kind, "currency", job.Currency, "from", job.From, "nonce", nonce,
		"to", b.to.Hex(), "amount", b.amount.String(), "gas", b.gas, "max_fee_per_gas", b.fees.Max.String(), "txid", job.TxID)
	return nil
}

// serviceFee is what a job leaves for the operator: a sweep's FeeService;
// gas top-ups and withdrawals take none.
func serviceFee(job *sweep.Job) *big.Int {
	if job.FeeService == nil || job.FeeService.Sign() < 0 || job.Kind == sweep.KindGas || job.Kind == sweep.KindWithdraw {
		return new(big.Int)
	}
	return job.FeeService
}

// built is a transaction before signing, with what reaches the destination.
type built struct {
	to     common.Address
	value  *big.Int
	data   []byte
	gas    uint64
	fees   fees
	amount *big.Int
}

// buildETH sends a gas top-up's or withdrawal's exact Gross (the sender pays
// the gas on top), or a sweep's Gross - FeeService less the gas.
func (c *Chain) buildETH(ctx context.Context, job *sweep.Job, from sender, to common.Address, feeService *big.Int, s state) (built, error) {
	budget := new(big.Int).Sub(job.Gross, feeService)
	if budget.Sign() <= 0 {
		return built{}, fmt.Errorf("%w: gross %s wei, service fee %s wei", sweep.ErrUneconomic, job.Gross, feeService)
	}
	gas, err := c.ethGas(ctx, from.addr, to, budget, s.head)
	if err != nil {
		return built{}, err
	}
	b := built{to: to, gas: gas, fees: s.fees}
	gasCost := s.fees.cost(gas)
	avail := s.spendable()
	if job.Kind == sweep.KindGas || job.Kind == sweep.KindWithdraw {
		b.value = new(big.Int).Set(job.Gross)
		if need := new(big.Int).Add(b.value, gasCost); avail.Cmp(need) < 0 {
			return built{}, fmt.Errorf("the %s %s has %s wei to spend, the transfer needs %s wei (%s + gas %s): refill it",
				from.what, from.addr.Hex(), avail, need, b.value, gasCost)
		}
		b.amount = new(big.Int).Set(b.value)
		return b, nil
	}
	b.value = new(big.Int).Sub(budget, gasCost)
	if b.value.Cmp(gasCost) <= 0 {
		return built{}, fmt.Errorf("%w: %s wei after the service fee, the gas may cost %s wei", sweep.ErrUneconomic, budget, gasCost)
	}
	if avail.Cmp(budget) < 0 {
		return built{}, fmt.Errorf("the %s %s has %s wei to spend, less than the %s wei of its deposits less the service fee",
			from.what, from.addr.Hex(), avail, budget)
	}
	b.amount = new(big.Int).Set(b.value)
	return b, nil
}

// ethGas is 21000 to an address without code, else the node's estimate
// plus a margin (a contract wallet's receive function runs code).
func (c *Chain) ethGas(ctx context.Context, from, to common.Address, value, head *big.Int) (uint64, error) {
	code, err := c.eth.CodeAt(ctx, to, head)
	if err != nil {
		return 0, fmt.Errorf("code at %s: %w", to.Hex(), err)
	}
	if len(code) == 0 {
		return TransferGas, nil
	}
	est, err := c.eth.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Value: value})
	if err != nil {
		return 0, fmt.Errorf("estimate gas of sending ETH to the contract %s: %w", to.Hex(), err)
	}
	return withMargin(est), nil
}

// buildToken calls transfer(to, amount): a withdrawal's Gross, a sweep's
// Gross - FeeService. The gas is the sender's ETH; without enough of it
// (beyond what its pending sweeps reserve) the job waits for a top-up.
func (c *Chain) buildToken(ctx context.Context, job *sweep.Job, from sender, to common.Address, feeService *big.Int, s state) (built, error) {
	t, err := c.tokenOf(job.Currency)
	if err != nil {
		return built{}, err
	}
	amount := new(big.Int).Sub(job.Gross, feeService)
	if amount.Sign() <= 0 {
		return built{}, fmt.Errorf("%w: gross %s, service fee %s %s units", sweep.ErrUneconomic, job.Gross, feeService, t.Symbol)
	}
	contract := common.HexToAddress(t.Contract)
	have, err := c.tokenBalance(ctx, contract, from.addr, s.head)
	if err != nil {
		return built{}, err
	}
	if need := new(big.Int).Add(amount, s.res.token(t.Symbol)); have.Cmp(need) < 0 {
		return built{}, fmt.Errorf("the %s %s holds %s %s units, the transfer needs %s (%s pending in other sweeps)",
			from.what, from.addr.Hex(), have, t.Symbol, need, s.res.token(t.Symbol))
	}
	data, err := transferCalldata(to, amount)
	if err != nil {
		return built{}, err
	}
	gas, err := c.tokenGas(ctx, from.addr, contract, data)
	if err != nil {
		return built{}, err
	}
	f, ok := s.fees.affordable(gas, s.spendable())
	if !ok {
		return built{}, fmt.Errorf("%w: the %s %s has %s wei for gas, the %s transfer needs up to %s wei",
			sweep.ErrWait, from.what, from.addr.Hex(), s.spendable(), t.Symbol, s.fees.cost(gas))
	}
	return built{to: contract, value: new(big.Int), data: data, gas: gas, fees: f, amount: amount}, nil
}

// tokenGas is the node's estimate of a token call plus a margin; the call is
// estimated without fee fields, so the sender needs no ETH for it.
func (c *Chain) tokenGas(ctx context.Context, from, contract common.Address, data []byte) (uint64, error) {
	est, err := c.eth.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &contract, Data: data})
	if err != nil {
		return 0, fmt.Errorf("estimate gas of the token transfer from %s on %s (would it revert?): %w", from.Hex(), contract.Hex(), err)
	}
	return withMargin(est), nil
}

func (c *Chain) tokenBalance(ctx context.Context, contract, holder common.Address, head *big.Int) (*big.Int, error) {
	out, err := c.eth.CallContract(ctx, ethereum.CallMsg{To: &contract, Data: balanceOfCalldata(holder)}, head)
	if err != nil {
		return nil, fmt.Errorf("balanceOf(%s) on %s: %w", holder.Hex(), contract.Hex(), err)
	}
	if len(out) != 32 {
		return nil, fmt.Errorf("balanceOf(%s) on %s: want one 32-byte word, got %d bytes", holder.Hex(), contract.Hex(), len(out))
	}
	return new(big.Int).SetBytes(out), nil
}

// sign signs with a go-ethereum copy of the key: btcec's ToECDSA carries
// btcec's curve, which go-ethereum's pure-Go signer (CGO_ENABLED=0) refuses.
func (c *Chain) sign(k *keys.PrivateKey, tx types.TxData) (*types.Transaction, error) {
	b := k.BTCEC()
	if b == nil {
		return nil, errors.New("no key")
	}
	secret := b.Serialize()
	defer clear(secret)
	priv, err := crypto.ToECDSA(secret)
	if err != nil {
		return nil, err
	}
	defer zeroKey(priv)
	return types.SignNewTx(priv, c.signer, tx)
}

// addressOf is the Ethereum address of a derived key: the last 20 bytes of
// Keccak-256 over the uncompressed public key without its 0x04 prefix.
func addressOf(k *keys.PrivateKey) common.Address {
	b := k.BTCEC()
	if b == nil {
		return common.Address{}
	}
	return common.BytesToAddress(crypto.Keccak256(b.PubKey().SerializeUncompressed()[1:])[12:])
}

// zeroKey wipes the copy's scalar once signed: go-ethereum's signer only
// takes an *ecdsa.PrivateKey, and D is the one handle on its secret.
func zeroKey(k *ecdsa.PrivateKey) {
	//lint:ignore SA1019 wiping the secret is the one use of D left, and the key is not used after
	if k != nil && k.D != nil {
		k.D.SetInt64(0) //lint:ignore SA1019 as above
	}
}

// Broadcast sends a signed transaction (eth_sendRawTransaction). One the
// node already has, in its pool or mined, is success; so is "nonce too low"
// when the transaction with that nonce is this one. A different transaction
// holding the nonce is ErrNonceTaken.
func (c *Chain) Broadcast(ctx context.Context, raw string) error {
	tx, err := decodeTx(raw)
	if err != nil {
		return err
	}
	err = c.eth.SendTransaction(ctx, tx)
	if err == nil {
		return nil
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "already known") || strings.Contains(msg, "already imported") {
		return nil
	}
	if _, _, lookErr := c.eth.TransactionByHash(ctx, tx.Hash()); lookErr == nil {
		return nil // the node has it, whatever it said
	}
	if strings.Contains(msg, "nonce too low") {
		return fmt.Errorf("broadcast %s (nonce %d): %w: %w", tx.Hash().Hex(), tx.Nonce(), ErrNonceTaken, err)
	}
	return fmt.Errorf("broadcast %s: %w", tx.Hash().Hex(), err)
}

func decodeTx(raw string) (*types.Transaction, error) {
	b, err := hexutil.Decode(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("raw transaction: want 0x-prefixed hex: %w", err)
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("raw transaction: %w", err)
	}
	return tx, nil
}

// Confirmations tells how deep txid is: head - block + 1 once mined, 0 while
// in the node's pool, known=false when the node has neither. A mined
// transaction that failed is ErrReverted, with its depth: status 0, or a
// token transfer that left no Transfer log (a token that returns false
// instead of reverting).
func (c *Chain) Confirmations(ctx context.Context, txid string) (int64, bool, error) {
	hash, err := parseHash(txid)
	if err != nil {
		return 0, false, err
	}
	r, err := c.eth.TransactionReceipt(ctx, hash)
	if errors.Is(err, ethereum.NotFound) {
		if _, _, err := c.eth.TransactionByHash(ctx, hash); err == nil {
			return 0, true, nil
		} else if !errors.Is(err, ethereum.NotFound) {
			return 0, false, fmt.Errorf("transaction %s: %w", txid, err)
		}
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("receipt of %s: %w", txid, err)
	}
	head, err := c.eth.BlockNumber(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("head: %w", err)
	}
	confs := int64(0)
	if r.BlockNumber != nil && r.BlockNumber.IsUint64() && head >= r.BlockNumber.Uint64() {
		confs = int64(head-r.BlockNumber.Uint64()) + 1
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return confs, true, fmt.Errorf("%w: %s reverted (status 0) in block %v", ErrReverted, txid, r.BlockNumber)
	}
	if err := c.checkTransfer(ctx, hash, r); err != nil {
		return confs, true, err
	}
	return confs, true, nil
}

// checkTransfer requires the Transfer log of a token transfer sluice signed:
// status 1 alone does not prove the tokens moved.
func (c *Chain) checkTransfer(ctx context.Context, hash common.Hash, r *types.Receipt) error {
	tx, _, err := c.eth.TransactionByHash(ctx, hash)
	if err != nil {
		return fmt.Errorf("transaction %s: %w", hash.Hex(), err)
	}
	if tx.To() == nil {
		return nil
	}
	t, ok := c.byContract[*tx.To()]
	if !ok {
		return nil
	}
	to, amount, ok := parseTransfer(tx.Data())
	if !ok {
		return nil
	}
	from, err := types.Sender(c.signer, tx)
	if err != nil {
		return fmt.Errorf("sender of %s: %w", hash.Hex(), err)
	}
	if !hasTransferLog(r.Logs, *tx.To(), from, to, amount) {
		return fmt.Errorf("%w: %s succeeded without the %s Transfer(%s, %s, %s) log", ErrReverted, hash.Hex(), t.Symbol,
			from.Hex(), to.Hex(), amount)
	}
	return nil
}

// NetworkFee is what a mined transaction paid for gas (gasUsed ×
// effectiveGasPrice), where the job's FeeNetwork is only the most it could;
// ErrNotMined before its receipt.
func (c *Chain) NetworkFee(ctx context.Context, txid string) (*big.Int, error) {
	hash, err := parseHash(txid)
	if err != nil {
		return nil, err
	}
	r, err := c.eth.TransactionReceipt(ctx, hash)
	if errors.Is(err, ethereum.NotFound) {
		return nil, fmt.Errorf("%s: %w", txid, ErrNotMined)
	}
	if err != nil {
		return nil, fmt.Errorf("receipt of %s: %w", txid, err)
	}
	if r.EffectiveGasPrice == nil {
		return nil, fmt.Errorf("receipt of %s has no effectiveGasPrice", txid)
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice), nil
}

func parseHash(txid string) (common.Hash, error) {
	b, err := hexutil.Decode(strings.TrimSpace(txid))
	if err != nil || len(b) != 32 {
		return common.Hash{}, fmt.Errorf("transaction id %q: want 0x and 64 hex digits", txid)
	}
	return common.BytesToHash(b), nil
}
