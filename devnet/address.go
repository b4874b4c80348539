package devnet

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/sluicepay/sluice/indexer/bitcoin"
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
		return validateETHAddress(addr)
	}
	return validateBitcoinAddress(chain, addr)
}

func validateETHAddress(addr string) error {
	h, ok := strings.CutPrefix(addr, "0x")
	if !ok {
		h, ok = strings.CutPrefix(addr, "0X")
	}
	if !ok || len(h) != 40 || !common.IsHexAddress(addr) {
		return fmt.Errorf("%q is not an Ethereum address: want 0x and 40 hex digits", addr)
	}
	if h != strings.ToLower(h) && h != strings.ToUpper(h) && common.HexToAddress(addr).Hex()[2:] != h {
		return fmt.Errorf("%q: the EIP-55 checksum of this mixed-case address does not match (a typo?); check it, or write it all in lower case to skip the check", addr)
	}
	if common.HexToAddress(addr) == (common.Address{}) {
		return fmt.Errorf("%q is the zero address: coins sent there are burnt", addr)
	}
	return nil
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
