package devnet

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
)

// StackNetwork is the network of the stack's btcd and litecoind.
const StackNetwork = "regtest"

// ValidateAddress checks that addr can receive coins of chain ("btc",
// "ltc" or "eth") on the stack's networks: Bitcoin and Litecoin regtest
// (bcrt1…/rltc1… segwit, or regtest base58 P2PKH and P2SH), or an Ethereum
// address (0x and 40 hex digits; a mixed-case one must carry a valid EIP-55
// checksum). An address of another network is refused naming that network.
func ValidateAddress(chain, addr string) error {
	chain, err := checkChain(chain)
	if err != nil {
		return err
	}
	if addr == "" {
		return fmt.Errorf("no destination address")
	}
	if chain == "eth" {
		return ethereum.ValidateAddress(addr)
	}
	return validateBitcoinAddress(chain, addr)
}

func validateBitcoinAddress(chain, addr string) error {
	p, err := bitcoin.ParamsFor(chain, StackNetwork)
	if err != nil {
		return err
	}
	return bitcoin.ValidateAddress(addr, p)
}

// NewBTCAddress makes a regtest P2WPKH (bcrt1q…) address of a fresh random
// key that is not kept: coins sent there can never be spent again, which is
// what a test destination needs (btcd has no wallet to hold the key).
func NewBTCAddress() (string, error) {
	key, err := btcec.NewPrivateKey()
	if err != nil {
		return "", err
	}
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), regtestParams())
	if err != nil {
		return "", err
	}
	return a.EncodeAddress(), nil
}

func regtestParams() *chaincfg.Params { return &chaincfg.RegressionNetParams }

// NewETHAddress makes the address (EIP-55 checksummed) of a fresh random key
// that is not kept: a destination no one else pays.
func NewETHAddress() (string, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return "", err
	}
	return crypto.PubkeyToAddress(key.PublicKey).Hex(), nil
}
