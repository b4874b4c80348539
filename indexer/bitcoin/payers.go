package bitcoin

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicepay/sluice/indexer"
)

// PrevoutAddress finds the address an output pays, by (txid, n): the index
// answers for what it holds; "" with nil error means it does not know.
type PrevoutAddress func(ctx context.Context, txid string, n uint32) (string, error)

// Payers returns the function that names the payer of each credit: the
// address of the output the paying transaction's first input spends, looked
// up in the same block, then through lookup (the index), then from the node
// (getrawtransaction: the node needs -txindex for old transactions). It also
// lists the outpoints the paying transaction spends, which a double spend
// would spend too.
func Payers(node *Node, lookup PrevoutAddress) func(context.Context, Indexed, []indexer.Credit) error {
	return func(ctx context.Context, b Indexed, cs []indexer.Credit) error {
		txs := make(map[string]*Tx, len(b.B.Txs))
		for i := range b.B.Txs {
			txs[b.B.Txs[i].TxID] = &b.B.Txs[i]
		}
		for i := range cs {
			tx := txs[cs[i].TxID]
			if tx == nil || len(tx.Vin) == 0 || tx.Vin[0].Coinbase {
				continue // a coinbase has no payer
			}
			cs[i].Spends = make([]string, len(tx.Vin))
			for k, in := range tx.Vin {
				cs[i].Spends[k] = in.PrevTxID + ":" + strconv.FormatUint(uint64(in.PrevVout), 10)
			}
			in := tx.Vin[0]
			if prev := txs[in.PrevTxID]; prev != nil && int(in.PrevVout) < len(prev.Vout) {
				if a := prev.Vout[in.PrevVout].Address; a != nil {
					cs[i].From = *a
				}
				continue
			}
			if lookup != nil {
				a, err := lookup(ctx, in.PrevTxID, in.PrevVout)
				if err != nil {
					return err
				}
				if a != "" {
					cs[i].From = a
					continue
				}
			}
			a, err := node.OutputAddress(ctx, in.PrevTxID, in.PrevVout)
			if err != nil {
				return fmt.Errorf("payer of %s: %w", cs[i].TxID, err)
			}
			cs[i].From = a
		}
		return nil
	}
}

// OutputAddress asks the node for the address of output n of txid.
func (n *Node) OutputAddress(ctx context.Context, txid string, vout uint32) (string, error) {
	var tx struct {
		Vout []struct {
			N            uint32 `json:"n"`
			ScriptPubKey struct {
				Address   string   `json:"address"`
				Addresses []string `json:"addresses"`
			} `json:"scriptPubKey"`
		} `json:"vout"`
	}
	if err := n.call(ctx, "getrawtransaction", &tx, txid, 1); err != nil {
		return "", err
	}
	for _, o := range tx.Vout {
		if o.N == vout {
			if o.ScriptPubKey.Address != "" {
				return o.ScriptPubKey.Address, nil
			}
			return strings.Join(o.ScriptPubKey.Addresses, ","), nil
		}
	}
	return "", fmt.Errorf("transaction %s has no output %s", txid, strconv.FormatUint(uint64(vout), 10))
}
