package ethereum

import (
	"strconv"

	"github.com/sluicepay/sluice/indexer"
)

// Credits returns the function listing a block's possible deposits: the
// chain's coin (native: its currency code, ETH on Ethereum) paid by
// successful transactions and inside contract calls, and transfers of the
// given tokens (lower-case contract address -> currency code, e.g. USDT;
// chain.Registry.Tokens).
func Credits(native string, tokens map[string]string) func(Indexed) []indexer.Credit {
	return func(ix Indexed) []indexer.Credit {
		b := ix.B
		var out []indexer.Credit
		for i := range b.Txs {
			tx := &b.Txs[i]
			if tx.Status == 1 && tx.To != "" && tx.Value != nil && tx.Value.Sign() > 0 {
				out = append(out, indexer.Credit{Address: tx.To, Currency: native, TxID: tx.Hash, Position: "tx",
					Amount: tx.Value.String(), From: tx.From})
			}
		}
		for _, t := range b.Transfers {
			sym, ok := tokens[t.Token]
			if !ok || t.Value == nil || t.Value.Sign() <= 0 {
				continue
			}
			out = append(out, indexer.Credit{Address: t.To, Currency: sym, TxID: t.TxHash,
				Position: "log:" + strconv.FormatUint(uint64(t.LogIndex), 10), Amount: t.Value.String(), From: t.From})
		}
		for _, it := range b.Internal {
			if it.Value == nil || it.Value.Sign() <= 0 || it.To == "" {
				continue
			}
			out = append(out, indexer.Credit{Address: it.To, Currency: native, TxID: it.TxHash,
				Position: "trace:" + it.TraceAddress, Amount: it.Value.String(), From: it.From})
		}
		// The sender's nonce is what a replacement transaction reuses.
		if len(out) > 0 {
			byHash := make(map[string]*Tx, len(b.Txs))
			for i := range b.Txs {
				byHash[b.Txs[i].Hash] = &b.Txs[i]
			}
			for i := range out {
				if tx := byHash[out[i].TxID]; tx != nil {
					nonce := tx.Nonce
					out[i].Sender, out[i].Nonce = tx.From, &nonce
				}
			}
		}
		return out
	}
}
