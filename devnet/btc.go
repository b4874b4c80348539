package devnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/sluicepay/sluice/jsonrpc"
)

// btcdFee is what a devnet payment pays the miner (regtest, 1 input, 2 outputs).
const btcdFee = 10_000

// PayBTC pays sats to the address `to` on the stack's btcd, which has no
// wallet: it spends a matured coinbase output of the regtest mining key
// (keyHex, from the stack's state) with the project's own signing, and
// returns the txid.
func PayBTC(ctx context.Context, rpcURL, keyHex, to string, sats int64) (string, error) {
	p, err := NewBTCPayment(ctx, rpcURL, keyHex, to, sats, nil)
	if err != nil {
		return "", err
	}
	return SendRawBTC(ctx, rpcURL, p.Raw)
}

// BTCPayment is a signed, not yet broadcast devnet payment.
type BTCPayment struct {
	TxID  string
	Raw   string        // hex
	Spent wire.OutPoint // the mining key's coinbase output it spends
}

// NewBTCPayment signs a payment of sats to `to` from the mining key without
// broadcasting it. It spends the given coinbase output of the key, or (nil)
// a matured unspent one the node at rpcURL finds: two payments from the
// same output are a double spend.
func NewBTCPayment(ctx context.Context, rpcURL, keyHex, to string, sats int64, from *BTCPayment) (BTCPayment, error) {
	c, err := jsonrpc.New(rpcURL, jsonrpc.WithVersion("1.0"))
	if err != nil {
		return BTCPayment{}, err
	}
	raw, err := hex.DecodeString(keyHex)
	if err != nil {
		return BTCPayment{}, fmt.Errorf("mining key is not hex")
	}
	key, pub := btcec.PrivKeyFromBytes(raw)
	params := &chaincfg.RegressionNetParams
	own, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), params)
	if err != nil {
		return BTCPayment{}, err
	}
	ownScript, err := txscript.PayToAddrScript(own)
	if err != nil {
		return BTCPayment{}, err
	}
	dest, err := btcutil.DecodeAddress(to, params)
	if err != nil {
		return BTCPayment{}, fmt.Errorf("destination %q: %w", to, err)
	}
	destScript, err := txscript.PayToAddrScript(dest)
	if err != nil {
		return BTCPayment{}, err
	}

	var op wire.OutPoint
	var value int64
	if from != nil {
		op = from.Spent
		value, err = outputValue(ctx, c, op)
	} else {
		op, value, err = matureCoinbase(ctx, c, hex.EncodeToString(ownScript), sats+btcdFee)
	}
	if err != nil {
		return BTCPayment{}, err
	}
	if value < sats+btcdFee {
		return BTCPayment{}, fmt.Errorf("output %s holds %d sat, less than %d + fee", op, value, sats)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: wire.MaxTxInSequenceNum - 2})
	tx.AddTxOut(wire.NewTxOut(sats, destScript))
	if change := value - sats - btcdFee; change > 1000 {
		tx.AddTxOut(wire.NewTxOut(change, ownScript))
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(ownScript, value)
	wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), 0, value, ownScript, txscript.SigHashAll, key, true)
	if err != nil {
		return BTCPayment{}, err
	}
	tx.TxIn[0].Witness = wit
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return BTCPayment{}, err
	}
	return BTCPayment{TxID: tx.TxHash().String(), Raw: hex.EncodeToString(buf.Bytes()), Spent: op}, nil
}

// SendRawBTC broadcasts a raw transaction (hex) and returns its txid.
func SendRawBTC(ctx context.Context, rpcURL, raw string) (string, error) {
	c, err := jsonrpc.New(rpcURL, jsonrpc.WithVersion("1.0"))
	if err != nil {
		return "", err
	}
	var txid string
	if err := c.Call(ctx, "sendrawtransaction", &txid, raw); err != nil {
		return "", err
	}
	return txid, nil
}

// outputValue reads the value of output op from the node.
func outputValue(ctx context.Context, c *jsonrpc.Client, op wire.OutPoint) (int64, error) {
	var tx struct {
		Vout []struct {
			Value float64 `json:"value"`
			N     uint32  `json:"n"`
		} `json:"vout"`
	}
	if err := c.Call(ctx, "getrawtransaction", &tx, op.Hash.String(), 1); err != nil {
		return 0, err
	}
	for _, o := range tx.Vout {
		if o.N == op.Index {
			amt, err := btcutil.NewAmount(o.Value)
			return int64(amt), err
		}
	}
	return 0, fmt.Errorf("transaction %s has no output %d", op.Hash, op.Index)
}

// matureCoinbase finds an unspent coinbase output paying script, 100 blocks deep.
func matureCoinbase(ctx context.Context, c *jsonrpc.Client, script string, need int64) (wire.OutPoint, int64, error) {
	var tip int64
	if err := c.Call(ctx, "getblockcount", &tip); err != nil {
		return wire.OutPoint{}, 0, err
	}
	var largest int64 // of the unspent matured outputs that are too small
	for h := int64(1); h <= tip-100; h++ {
		var hash string
		if err := c.Call(ctx, "getblockhash", &hash, h); err != nil {
			return wire.OutPoint{}, 0, err
		}
		var blk struct {
			Tx []string `json:"tx"`
		}
		if err := c.Call(ctx, "getblock", &blk, hash, 1); err != nil {
			return wire.OutPoint{}, 0, err
		}
		if len(blk.Tx) == 0 {
			continue
		}
		var out *struct {
			Value        float64 `json:"value"`
			ScriptPubKey struct {
				Hex string `json:"hex"`
			} `json:"scriptPubKey"`
		}
		if err := c.Call(ctx, "gettxout", &out, blk.Tx[0], 0, true); err != nil {
			return wire.OutPoint{}, 0, err
		}
		if out == nil || out.ScriptPubKey.Hex != script {
			continue // spent in the chain, or not ours
		}
		// btcd's gettxout does not see spends in the mempool: a payment
		// made and not yet mined spends the output already.
		if spent, err := spentInMempool(ctx, c, blk.Tx[0], 0); err != nil {
			return wire.OutPoint{}, 0, err
		} else if spent {
			continue
		}
		amt, err := btcutil.NewAmount(out.Value)
		if err != nil {
			continue
		}
		if int64(amt) < need {
			largest = max(largest, int64(amt))
			continue
		}
		txh, err := chainhash.NewHashFromStr(blk.Tx[0])
		if err != nil {
			return wire.OutPoint{}, 0, err
		}
		return wire.OutPoint{Hash: *txh, Index: 0}, int64(amt), nil
	}
	if largest > 0 {
		return wire.OutPoint{}, 0, fmt.Errorf("no matured coinbase output of the mining key holds %s + %s fee (a payment spends one; the largest left holds %s): pay less",
			btcutil.Amount(need-btcdFee), btcutil.Amount(btcdFee), btcutil.Amount(largest))
	}
	return wire.OutPoint{}, 0, errors.New("no matured coinbase output of the mining key left: mine more blocks (sluice stack up mines 500)")
}

// spentInMempool reports whether a transaction in btcd's mempool spends output vout of txid.
func spentInMempool(ctx context.Context, c *jsonrpc.Client, txid string, vout uint32) (bool, error) {
	type outpoint struct {
		Txid string `json:"txid"`
		Vout uint32 `json:"vout"`
	}
	var res []struct {
		SpendingTxid string `json:"spendingtxid"`
	}
	if err := c.Call(ctx, "gettxspendingprevout", &res, []outpoint{{txid, vout}}); err != nil {
		return false, err
	}
	return len(res) == 1 && res[0].SpendingTxid != "", nil
}
