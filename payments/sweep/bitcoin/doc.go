// Package bitcoin is the Bitcoin-family (BTC, LTC) part of sweeping: a
// sweep.Chain that builds, signs, broadcasts and follows the transactions
// that move confirmed deposits out of their BIP84 deposit addresses, and
// withdrawals out of the operator's hot wallet.
//
// One transaction per job. A sweep (settle, hot, forward) spends every
// deposit output of the job to two outputs at most: the destination first,
// the operator's service fee second. The network fee is the transaction's
// virtual size (counted with the largest signatures, so the rate paid is
// never below the rate asked) times the node's estimate for two blocks
// (estimatesmartfee on bitcoind and litecoind, estimatefee on btcd), kept
// between a configured floor and ceiling; the floor when the node has no
// estimate, as on a fresh regtest chain. Fees come out of the amount: the
// destination gets Gross − FeeService − FeeNetwork.
//
// Dust is never created. A destination that would get less than its dust
// limit (the relay dust rate, 3 sat/vB for Bitcoin and 30 litoshi/vB for
// Litecoin, times the output's size plus the size of spending it: 294 sat
// for P2WPKH and 546 for P2PKH on Bitcoin, 2,940 and 5,460 litoshi on
// Litecoin) makes the job sweep.ErrUneconomic. A service fee below the fee
// address's dust limit is not taken: it stays with the destination and the
// job's FeeService becomes 0 (sending it to miners would help nobody).
//
// Every input signals replacement (BIP 125), so a stuck job can be replaced
// with Bump: the same inputs, the same outputs, a higher fee.
//
// Withdrawals spend the hot wallet: the P2WPKH address of HotWalletAccount,
// index 0, of the same seed (HotWalletAddress), which hot sweeps pay. Its
// confirmed outputs that nothing spends, in the chain or the mempool, are
// used largest first; change goes back to it, and change under the dust
// limit goes to the network fee. A withdrawal the confirmed outputs do not
// cover waits (sweep.ErrWait).
package bitcoin
