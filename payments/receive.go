package payments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Receive is where a litepay receive address forwards its payments.
type Receive struct {
	Destination string
	CallbackURL string // "" with CallbackReq false: no callback
	CallbackReq bool
	FeePercent  string // the forwarding fee, an exact decimal fraction ("0.01")
}

// NewReceiveAddress makes a wallet of its own for one litepay receive call
// (litepay hands out a fresh address each time, under a random extId
// "receive-...") and records where it forwards to. The wallet is returned
// with the error when it was made but not yet watched (see WalletFor).
func (l *Ledger) NewReceiveAddress(ctx context.Context, merchantID int64, currency string, r Receive) (Wallet, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return Wallet{}, err
	}
	w, _, werr := l.WalletFor(ctx, merchantID, currency, "receive-"+hex.EncodeToString(b))
	if werr != nil && w.Address == "" {
		return Wallet{}, werr
	}
	if _, err := l.DB.Exec(ctx, `INSERT INTO receive_addresses (wallet_id, destination, callback_url, callback_req, fee_percent)
		VALUES ($1, $2, $3, $4, $5::numeric)`, w.ID, r.Destination, r.CallbackURL, r.CallbackReq, r.FeePercent); err != nil {
		return Wallet{}, fmt.Errorf("ledger: %w", err)
	}
	return w, werr
}
