package bitcoin

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	ibtc "github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/payments/sweep"
)

// Sizes of a P2WPKH spend (BIP 141, BIP 143).
const (
	// outpoint, empty script length, sequence: the input's non-witness part
	inputBaseSize = 32 + 4 + 1 + 4
	// the witness stack: item count, signature, public key. A DER signature
	// is at most 71 bytes here (R up to 33 bytes, S at most 32 since btcec
	// signs with low S), plus the sighash byte.
	maxSigSize        = 72
	inputWitnessSize  = 1 + (1 + maxSigSize) + (1 + 33)
	txOverhead        = 4 + 4 // version, lock time
	witnessHeaderSize = 2     // marker and flag
)

// rbfSequence signals replacement (BIP 125: below 0xfffffffe) and keeps
// lock time enabled.
const rbfSequence = wire.MaxTxInSequenceNum - 2

// coin is an output a transaction spends, with the key that signs it.
type coin struct {
	op     wire.OutPoint
	value  int64
	script []byte // its P2WPKH output script
	key    *btcec.PrivateKey
}

// payment is an output of the transaction.
type payment struct {
	script []byte
	value  int64
}

// policy is what the nodes of one chain relay, in base units per 1,000 vB.
type policy struct {
	dustRelay   int64 // -dustrelayfee: what makes an output dust
	incremental int64 // -incrementalrelayfee: the least a replacement's fee rises per vB of it
}

// policyFor gives Bitcoin Core's and Litecoin Core's defaults (Litecoin
// raised the dust rate tenfold: its P2WPKH dust limit is 2,940 litoshi).
func policyFor(chain string) policy {
	if chain == ibtc.ChainLTC {
		return policy{dustRelay: 30_000, incremental: 1_000}
	}
	return policy{dustRelay: 3_000, incremental: 1_000}
}

// dustLimit is the least value an output paying script may hold: Core's
// GetDustThreshold, the output's size plus the size of the input that would
// spend it (a witness program's at a quarter), at the dust relay rate.
func (p policy) dustLimit(script []byte) int64 {
	size := int64(8 + wire.VarIntSerializeSize(uint64(len(script))) + len(script))
	if isWitnessProgram(script) {
		size += 32 + 4 + 1 + 107/4 + 4
	} else {
		size += 32 + 4 + 1 + 107 + 4
	}
	return ceilDiv(size*p.dustRelay, 1000)
}

// isWitnessProgram is Core's CScript::IsWitnessProgram: a version opcode
// (OP_0, OP_1..OP_16) and one direct push of 2 to 40 bytes.
func isWitnessProgram(s []byte) bool {
	if len(s) < 4 || len(s) > 42 {
		return false
	}
	if s[0] != txscript.OP_0 && (s[0] < txscript.OP_1 || s[0] > txscript.OP_16) {
		return false
	}
	return int(s[1])+2 == len(s)
}

// estimateVSize is the virtual size of a transaction spending n P2WPKH
// inputs to outputs paying scripts, with the largest signatures: the real
// one is at most this.
func estimateVSize(n int, scripts [][]byte) int64 {
	base := txOverhead + wire.VarIntSerializeSize(uint64(n)) + n*inputBaseSize + wire.VarIntSerializeSize(uint64(len(scripts)))
	for _, s := range scripts {
		base += 8 + wire.VarIntSerializeSize(uint64(len(s))) + len(s)
	}
	weight := int64(base*4 + witnessHeaderSize + n*inputWitnessSize)
	return ceilDiv(weight, 4)
}

// vsize is the virtual size of tx (BIP 141: weight / 4, rounded up).
func vsize(tx *wire.MsgTx) int64 {
	weight := int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
	return ceilDiv(weight, 4)
}

// feeFor is the fee of vsize at rate (base units per 1,000 vB), rounded up.
func feeFor(rate, vsize int64) int64 { return ceilDiv(rate*vsize, 1000) }

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// signed is a built and signed transaction.
type signed struct {
	tx         *wire.MsgTx
	raw, txid  string
	amount     int64 // to the destination
	feeService int64 // to the fee address (0 when none or dust)
	feeNetwork int64
	change     int64 // back to the hot wallet (withdrawals)
}

// sweepSpec is a sweep: every coin, to the destination less the fees.
type sweepSpec struct {
	coins       []coin
	dest        []byte
	feeScript   []byte // nil without a service fee
	feeService  int64
	rate        int64 // base units per 1,000 vB
	minFee      int64 // a replacement pays at least this
	pol         policy
	destAddress string // for messages
}

// buildSweep spends every coin: the destination gets the total less the
// service fee and the network fee; a service fee below its output's dust
// limit is left to the destination.
func buildSweep(s sweepSpec) (*signed, error) {
	if len(s.coins) == 0 {
		return nil, errors.New("no inputs to sweep")
	}
	var gross int64
	for _, c := range s.coins {
		gross += c.value
	}
	feeService := s.feeService
	if feeService > 0 && (s.feeScript == nil || feeService < s.pol.dustLimit(s.feeScript)) {
		feeService = 0 // dust: not taken (see the package doc)
	}
	if feeService > gross {
		return nil, fmt.Errorf("the service fee %d is more than the inputs hold (%d)", feeService, gross)
	}
	outs := []payment{{script: s.dest}}
	if feeService > 0 {
		outs = append(outs, payment{script: s.feeScript, value: feeService})
	}
	netFee := max(feeFor(s.rate, estimateVSize(len(s.coins), scriptsOf(outs))), s.minFee)
	amount := gross - feeService - netFee
	if dust := s.pol.dustLimit(s.dest); amount < dust {
		return nil, fmt.Errorf("%w: %d in, %d service fee, %d network fee at %s leave %d for %s, under its dust limit of %d",
			sweep.ErrUneconomic, gross, feeService, netFee, rateText(s.rate), amount, s.destAddress, dust)
	}
	outs[0].value = amount
	tx, err := signTx(s.coins, outs)
	if err != nil {
		return nil, err
	}
	return finish(tx, amount, feeService, netFee, 0)
}

// spendSpec is a payment from the hot wallet: an amount to the destination
// (and a service fee, if any) from as many coins as it takes, largest first
// as given, with change back to the hot wallet.
type spendSpec struct {
	coins       []coin // candidates, in the order to use them
	useAll      bool   // spend every coin (a replacement keeps its inputs)
	dest        []byte
	amount      int64
	feeScript   []byte
	feeService  int64
	change      []byte
	rate        int64
	minFee      int64
	pol         policy
	destAddress string
}

// errShort is the hot wallet holding too little (confirmed) for a payment.
var errShort = errors.New("the hot wallet's confirmed outputs do not cover the payment")

// buildSpend chooses coins for a payment and signs it. Change under its
// dust limit is left to the network fee.
func buildSpend(s spendSpec) (*signed, error) {
	if dust := s.pol.dustLimit(s.dest); s.amount < dust {
		return nil, fmt.Errorf("%w: %d to %s is under its dust limit of %d", sweep.ErrUneconomic, s.amount, s.destAddress, dust)
	}
	feeService := s.feeService
	if feeService > 0 && (s.feeScript == nil || feeService < s.pol.dustLimit(s.feeScript)) {
		feeService = 0
	}
	outs := []payment{{script: s.dest, value: s.amount}}
	if feeService > 0 {
		outs = append(outs, payment{script: s.feeScript, value: feeService})
	}
	need := s.amount + feeService
	changeDust := s.pol.dustLimit(s.change)
	var have int64
	for n := 1; n <= len(s.coins); n++ {
		have += s.coins[n-1].value
		if s.useAll && n < len(s.coins) {
			continue
		}
		// with change
		withChange := append(append([]payment(nil), outs...), payment{script: s.change})
		fee := max(feeFor(s.rate, estimateVSize(n, scriptsOf(withChange))), s.minFee)
		if change := have - need - fee; change >= changeDust {
			withChange[len(withChange)-1].value = change
			tx, err := signTx(s.coins[:n], withChange)
			if err != nil {
				return nil, err
			}
			return finish(tx, s.amount, feeService, fee, change)
		}
		// without: what is left over goes to the network fee
		fee = max(feeFor(s.rate, estimateVSize(n, scriptsOf(outs))), s.minFee)
		if have-need >= fee {
			tx, err := signTx(s.coins[:n], outs)
			if err != nil {
				return nil, err
			}
			return finish(tx, s.amount, feeService, have-need, 0)
		}
	}
	return nil, fmt.Errorf("%w: %d confirmed in %d outputs, %d to pay plus the network fee at %s",
		errShort, have, len(s.coins), need, rateText(s.rate))
}

func scriptsOf(outs []payment) [][]byte {
	s := make([][]byte, len(outs))
	for i, o := range outs {
		s[i] = o.script
	}
	return s
}

// signTx builds a version 2 transaction spending coins to outs, every input
// signalling replacement, and signs each input: witness v0 P2WPKH, SIGHASH_ALL,
// over its own amount and script (BIP 143). Each input is then run through
// the script engine, so a transaction that would not validate is never
// returned.
func signTx(coins []coin, outs []payment) (*wire.MsgTx, error) {
	tx := wire.NewMsgTx(2)
	prevs := txscript.NewMultiPrevOutFetcher(nil)
	for _, c := range coins {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: c.op, Sequence: rbfSequence})
		prevs.AddPrevOut(c.op, wire.NewTxOut(c.value, c.script))
	}
	for _, o := range outs {
		tx.AddTxOut(wire.NewTxOut(o.value, o.script))
	}
	hashes := txscript.NewTxSigHashes(tx, prevs)
	for i, c := range coins {
		wit, err := txscript.WitnessSignature(tx, hashes, i, c.value, c.script, txscript.SigHashAll, c.key, true)
		if err != nil {
			return nil, fmt.Errorf("sign input %d (%s): %w", i, c.op, err)
		}
		tx.TxIn[i].Witness = wit
	}
	for i, c := range coins {
		vm, err := txscript.NewEngine(c.script, tx, i, txscript.StandardVerifyFlags, nil, hashes, c.value, prevs)
		if err == nil {
			err = vm.Execute()
		}
		if err != nil {
			return nil, fmt.Errorf("input %d (%s) does not verify: %w", i, c.op, err)
		}
	}
	return tx, nil
}

func finish(tx *wire.MsgTx, amount, feeService, feeNetwork, change int64) (*signed, error) {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return nil, err
	}
	return &signed{tx: tx, raw: hex.EncodeToString(buf.Bytes()), txid: tx.TxHash().String(),
		amount: amount, feeService: feeService, feeNetwork: feeNetwork, change: change}, nil
}

// p2wpkhScript is the output script of a compressed public key's P2WPKH
// address: OP_0, then its HASH160.
func p2wpkhScript(pub *btcec.PublicKey) []byte {
	return append([]byte{txscript.OP_0, txscript.OP_DATA_20}, btcutil.Hash160(pub.SerializeCompressed())...)
}

// decodeTx reads a raw transaction (hex).
func decodeTx(raw string) (*wire.MsgTx, error) {
	b, err := hex.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("raw transaction is not hex: %w", err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("raw transaction: %w", err)
	}
	return &tx, nil
}

// rateText writes a rate per 1,000 vB as per-vB, e.g. "12.5/vB".
func rateText(rate int64) string {
	if rate%1000 == 0 {
		return fmt.Sprintf("%d/vB", rate/1000)
	}
	return fmt.Sprintf("%d.%03d/vB", rate/1000, rate%1000)
}

// WithdrawalFeeReserve is the most a withdrawal's network fee may be at the
// fee-rate ceiling (sat/vB): two inputs (the hot wallet's coins, largest
// first), the destination (up to a 34-byte script) and change. A
// withdrawal is never signed for more (it waits), and this much is held
// from the merchant's balance until it confirms.
func WithdrawalFeeReserve(ceilingSatPerVB int64) *big.Int {
	return big.NewInt(feeFor(ceilingSatPerVB*1000, withdrawalVSize()))
}

// withdrawalVSize is the size a withdrawal's fee is reserved for.
func withdrawalVSize() int64 {
	return estimateVSize(2, [][]byte{make([]byte, 34), make([]byte, 22)})
}
