package sweep

import (
	"context"
	"errors"
	"math/big"
	"time"
)

// Job kinds.
const (
	KindSettle   = "settle"   // deposits → the merchant's settlement address
	KindHot      = "hot"      // deposits → the operator's hot wallet (the merchant's balance)
	KindForward  = "forward"  // a litepay receive address's deposits → its destination
	KindGas      = "gas"      // the gas tank → a USDT deposit address (ETH for the token transfer)
	KindWithdraw = "withdraw" // the hot wallet → a withdrawal's address
	// KindFee collects a sweep's service fee from the same deposit address
	// afterwards, where one transaction cannot pay two recipients (Ethereum).
	KindFee = "fee"
)

// Job states.
const (
	StatePlanned   = "planned"
	StateSigned    = "signed"
	StateBroadcast = "broadcast"
	StateConfirmed = "confirmed"
	StateFailed    = "failed"
	StateReplaced  = "replaced"
)

// Input is a deposit a job spends, with what signing needs: the deposit
// address's derivation (the merchant's HD account and the wallet's index).
type Input struct {
	DepositID int64
	TxID      string
	Position  string // vout:N (Bitcoin family); tx, log:N, trace:… (Ethereum)
	Amount    *big.Int
	Address   string
	Currency  string
	Account   uint32 // the merchant's key_account
	Index     uint32 // the wallet's derivation_index
}

// Job is one sweep row.
type Job struct {
	ID          int64
	Chain       string
	Currency    string
	MerchantID  int64 // 0 for gas top-ups
	Kind        string
	State       string
	Destination string
	// Gross is what the inputs hold (or a withdrawal's amount); Amount what
	// reaches the destination: Gross - FeeService - FeeNetwork for sweeps.
	Gross      *big.Int
	Amount     *big.Int
	FeeService *big.Int
	FeeAddress string
	FeeNetwork *big.Int
	From       string  // Ethereum: the sending address
	Nonce      *uint64 // Ethereum
	RawTx      string  // hex, once signed
	TxID       string
	Replaces   int64 // the job this one bumps (RBF), 0 if none
	AfterSweep int64 // a job that must confirm first (a USDT sweep's gas top-up), 0 if none
	// FeeMax is the most a withdrawal's network fee may be (what its
	// merchant's balance holds for it); nil for sweeps.
	FeeMax *big.Int
	// FeeCurrency is the coin a withdrawal's network fee is paid in.
	FeeCurrency string
	Inputs      []Input

	sentAt time.Time // when it was (last) broadcast
}

// ErrWait is returned by Chain.Sign when a job cannot be signed yet (its
// gas top-up is not confirmed, the fee estimate is missing): it stays
// planned and is tried again later.
var ErrWait = errors.New("not ready to sign yet")

// ErrUneconomic is returned by Chain.Sign when what would reach the
// destination is dust or nothing after fees: the job fails and its deposits
// go back to wait for more.
var ErrUneconomic = errors.New("the amount does not cover the fees")

// ErrReverted is returned by Chain.Confirmations for a transaction that was
// mined and failed (Ethereum receipt status 0, or a token transfer without
// its Transfer log): the job fails and its deposits are swept again.
var ErrReverted = errors.New("the transaction failed on chain")

// ErrNonceTaken is returned by Chain.Broadcast when another transaction from
// the same address was mined with the job's nonce: this one can never be.
var ErrNonceTaken = errors.New("the nonce was used by another transaction")

// ErrConflict is returned by Chain.Broadcast when the transaction's inputs
// are spent by another transaction (or unknown): it cannot confirm as it is.
// For a replacement (RBF) it means the transaction it replaces holds them.
var ErrConflict = errors.New("the transaction's inputs are spent by another transaction or unknown to the node")

// Bumper is a Chain that replaces a transaction stuck in the mempool with
// one paying a higher fee (Bitcoin family, BIP 125). Bump returns the new
// job, signed, with Replaces set; it must not broadcast nor change job.
type Bumper interface {
	Bump(ctx context.Context, job *Job) (*Job, error)
}

// Chain is one chain's part of sweeping.
type Chain interface {
	// Sign builds and signs job's transaction: it sets RawTx, TxID,
	// FeeNetwork and Amount (and From and Nonce on Ethereum). It must not
	// broadcast. Returning ErrWait leaves the job planned.
	Sign(ctx context.Context, job *Job) error
	// Broadcast sends a signed transaction. A transaction the node already
	// has (in its mempool or chain) is success: broadcasting is repeated
	// after crashes.
	Broadcast(ctx context.Context, raw string) error
	// Confirmations tells how deep txid is on the node's main chain (0 in the
	// mempool) and whether the node knows it at all.
	Confirmations(ctx context.Context, txid string) (confs int64, known bool, err error)
}

// FeeMeter is a Chain whose transactions can pay less network fee than
// signed for (Ethereum: gasUsed × effectiveGasPrice under the signed
// maximum); a confirmed withdrawal records what its transaction paid.
type FeeMeter interface {
	NetworkFee(ctx context.Context, txid string) (*big.Int, error)
}
