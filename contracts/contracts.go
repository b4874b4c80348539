// Package contracts holds sluice's devnet Solidity contracts (a USDT-like
// token, a USDC-like token and an ETH/token forwarder) and embeds their
// compiled artifacts.
//
// The artifacts in build/ are the one source of truth: build.sh writes them
// from the .sol files with a pinned solc, and this package embeds them as they
// are, so Go builds need neither npm nor solc.
package contracts

import (
	"embed"
	"encoding/hex"
	"fmt"
	"strings"
)

// Names of the contracts, for Get.
const (
	TetherToken = "TetherToken" // USDT-like ERC-20: 6 decimals, transfer/transferFrom/approve return nothing
	USDCToken   = "USDCToken"   // USDC-like ERC-20: 6 decimals, transfer/transferFrom/approve return bool
	Forwarder   = "Forwarder"   // moves ETH and tokens from inside a contract call
)

//go:embed build/*.bin build/*.abi
var build embed.FS

// Artifact is one compiled contract.
type Artifact struct {
	Name string
	Bin  []byte // creation bytecode (the data of the deploying transaction)
	ABI  []byte // JSON ABI as solc wrote it
}

// Get returns the compiled artifact of the contract name (TetherToken, USDCToken or Forwarder).
func Get(name string) (Artifact, error) {
	binHex, err := build.ReadFile("build/" + name + ".bin")
	if err != nil {
		return Artifact{}, fmt.Errorf("contracts: no compiled contract %q (have %s, %s, %s)", name, TetherToken, USDCToken, Forwarder)
	}
	abi, err := build.ReadFile("build/" + name + ".abi")
	if err != nil {
		return Artifact{}, fmt.Errorf("contracts: %s has bytecode but no ABI: run `bash contracts/build.sh`", name)
	}
	bin, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(binHex)), "0x"))
	if err != nil || len(bin) == 0 {
		return Artifact{}, fmt.Errorf("contracts: build/%s.bin is not hex bytecode: run `bash contracts/build.sh`", name)
	}
	return Artifact{Name: name, Bin: bin, ABI: abi}, nil
}
