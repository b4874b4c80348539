// Package ethsweep is Ethereum's part of sweeping (a sweep.Chain): it signs
// EIP-1559 transfers of ETH and ERC-20 tokens out of deposit addresses, the
// gas tank and the hot wallet, tops token deposit addresses up with gas,
// hands out nonces per sending address, and follows transactions to their
// receipts.
//
// Any EVM chain works the same way: its coin (Config.Native, e.g.
// POL_POLYGON; ETH by default) takes ETH's place below, and the node must
// answer the chain's id (Config.ChainID).
//
// One job is one transaction from one address to one recipient: a plain
// transfer cannot pay two. So a deposit sweep pays the destination
//
//	ETH:    Amount = Gross - FeeService - FeeNetwork
//	tokens: Amount = Gross - FeeService   (the gas is ETH, from the gas tank)
//
// and the service fee stays at the deposit address, held for the operator,
// until a job with Gross = FeeService and Destination = FeeAddress (FeeJob)
// collects it; the operator pays the gas of collecting its own fee. Amounts
// come from the job's deposits (Gross), not the address's balance, so a
// deposit that is not confirmed yet is never swept along and the ledger
// matches the chain to the wei.
//
// EIP-1559 fees: maxPriorityFeePerGas is the node's eth_maxPriorityFeePerGas,
// maxFeePerGas is 2 × the latest base fee + the tip, capped by the configured
// ceiling. FeeNetwork is the most the transaction can cost (gas limit ×
// maxFeePerGas), which is what is reserved when signing; what it really cost
// (gasUsed × effectiveGasPrice) is known from its receipt (NetworkFee). The
// difference stays at the sending address: an ETH deposit address keeps
// gasLimit × (maxFeePerGas − effectiveGasPrice) wei of dust after its sweep.
//
// Keys: deposit keys come from the master seed by the inputs' account and
// index, on the branch of their currency (ETH m/44'/60'/account'/0/index, a
// token on its Token.KeyBranch: USDT m/44'/60'/account'/1/index, USDC 2);
// the gas tank is m/44'/60'/2147483645'/0/0 (GasTankAddress) and the hot
// wallet, which pays withdrawals, m/44'/60'/2147483646'/0/0
// (HotWalletAddress).
//
// Nonces: the next nonce of an address is the larger of the node's pending
// transaction count and one more than the highest nonce of the address's
// live sweeps in the ledger (signed ones the node has not seen yet
// included); the ledger's unique index on (chain, from_address, nonce)
// refuses a second job with the same nonce from a racing process.
package ethsweep
