package bitcoin

import "time"

// Block is a decoded Bitcoin-family block: what the index stores and what
// `sluice decode block` prints. Hashes are hex in display (reversed) order.
type Block struct {
	Hash       string    `json:"hash"`
	PrevHash   string    `json:"prev_hash"`
	MerkleRoot string    `json:"merkle_root"`
	Version    int32     `json:"version"`
	Time       time.Time `json:"time"`
	Bits       uint32    `json:"bits"`
	Nonce      uint32    `json:"nonce"`
	// Height is the BIP34 height from the coinbase when present, else -1;
	// the indexer always takes the height from the node.
	Height int64 `json:"height"`
	Size   int   `json:"size"` // bytes of the whole serialized block, MWEB part included
	Txs    []Tx  `json:"txs"`
	// MWEB is true when a Litecoin block carries a HogEx transaction and an
	// extension block; only the canonical (non-MWEB) part is decoded.
	MWEB bool `json:"mweb,omitempty"`
}

// Tx is one transaction of the canonical block.
type Tx struct {
	TxID     string   `json:"txid"`
	Hash     string   `json:"hash"` // wtxid; equals txid without witness
	Version  int32    `json:"version"`
	LockTime uint32   `json:"locktime"`
	Size     int      `json:"size"`
	VSize    int      `json:"vsize"`
	Coinbase bool     `json:"coinbase"`
	HogEx    bool     `json:"hogex,omitempty"` // Litecoin MWEB integration transaction
	Vin      []Input  `json:"vin"`
	Vout     []Output `json:"vout"`
}

// Input references the output it spends.
type Input struct {
	PrevTxID string `json:"prev_txid"` // all zeros for a coinbase
	PrevVout uint32 `json:"prev_vout"`
	Coinbase bool   `json:"coinbase"`
	Sequence uint32 `json:"sequence"`
}

// Output is one output with its script classified.
type Output struct {
	N     uint32 `json:"n"`
	Value int64  `json:"value"` // base units (satoshi / litoshi)
	// Type is one of p2pkh, p2sh, p2wpkh, p2wsh, p2tr, p2pk, multisig,
	// nulldata, witness_unknown, nonstandard.
	Type    string  `json:"type"`
	Address *string `json:"address"` // null when the script has no address form
	Script  []byte  `json:"-"`
}
