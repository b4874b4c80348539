// Package explorer reads the chain index for the explorer API: blocks,
// transactions with their inputs' prevouts and outputs' spends, address
// histories and balances, token transfers, canonical chain only, busy
// addresses paginated by a cursor that new blocks cannot shift. Its
// Resolver fills address_spends, the Bitcoin-family spends by the address
// of the output they spend, by following the index.
package explorer
