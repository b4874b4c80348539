package bitcoin

import (
	"strconv"

	"github.com/sluicepay/sluice/indexer"
)

// Credits returns the function listing a block's possible deposits in
// currency (BTC or LTC): every output with an address.
func Credits(currency string) func(Indexed) []indexer.Credit {
	return func(b Indexed) []indexer.Credit {
		var out []indexer.Credit
		for t := range b.B.Txs {
			tx := &b.B.Txs[t]
			for _, o := range tx.Vout {
				if o.Address == nil || o.Value <= 0 {
					continue
				}
				out = append(out, indexer.Credit{Address: *o.Address, Currency: currency, TxID: tx.TxID,
					Position: "vout:" + strconv.FormatUint(uint64(o.N), 10), Amount: strconv.FormatInt(o.Value, 10)})
			}
		}
		return out
	}
}
