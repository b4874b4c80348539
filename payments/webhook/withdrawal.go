package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
)

// FlavourWithdrawal is the delivery flavour of iqpay's withdrawal webhook.
const FlavourWithdrawal = "withdrawal"

// WithdrawalPayload is iqpay's withdrawal webhook: the seed's fields first,
// exactly as named there, then sluice's own. status is the event's: 0 the
// transaction is in the chain's mempool or a block, 1 confirmed, 2 failed.
// timeConfirmed is when it was confirmed (or failed), 0 while status is 0.
// gas is the network fee in the chain's own coin (ETH for a USDT
// withdrawal, paid by the operator's hot wallet): the most it can be while
// status is 0 on Ethereum, what was paid once confirmed.
type WithdrawalPayload struct {
	ID            int64       `json:"id"`
	Address       string      `json:"address"`
	Currency      string      `json:"currency"`
	Amount        json.Number `json:"amount"`
	TxID          string      `json:"txid"`
	Gas           json.Number `json:"gas"`
	TimeCreated   int64       `json:"timeCreated"`
	TimeConfirmed int64       `json:"timeConfirmed"`
	Status        int         `json:"status"`

	EventID         int64  `json:"event_id"` // also X-Sluice-Event-Id; one sequence with deposit events
	Kind            string `json:"kind"`     // always "withdrawal"
	ExtID           string `json:"ext_id"`   // the merchant's idempotency key of the withdrawal
	GasCurrency     string `json:"gas_currency"`
	AmountBaseUnits string `json:"amount_base_units"`
	GasBaseUnits    string `json:"gas_base_units"`
}

// withdrawalEvent is what a withdrawal delivery says, read at send time.
type withdrawalEvent struct {
	EventID, WithdrawalID int64
	Status                int
	At, Created           time.Time
	Currency, ExtID       string
	Address, TxID         string
	Units, Gas            string         // base units
	Secret                signingSecrets // opened at load
}

// loadWithdrawal reads a withdrawal event with its withdrawal as it is now.
func (r *runner) loadWithdrawal(ctx context.Context, eventID int64) (withdrawalEvent, error) {
	var we withdrawalEvent
	var stored storedSecrets
	err := r.db.QueryRow(ctx, `SELECT e.id, w.id, e.status, e.created_at, w.created_at, w.currency, w.ext_id, w.address,
			coalesce(s.txid, ''), w.amount::text, (CASE WHEN e.status = 0 THEN coalesce(s.fee_network, 0) ELSE w.gas END)::text,
			`+secretColumns+`
		FROM withdrawal_events e JOIN withdrawals w ON w.id = e.withdrawal_id JOIN merchants m ON m.id = w.merchant_id
		LEFT JOIN sweeps s ON s.id = w.sweep_id
		WHERE e.id = $1`, eventID).Scan(&we.EventID, &we.WithdrawalID, &we.Status, &we.At, &we.Created, &we.Currency,
		&we.ExtID, &we.Address, &we.TxID, &we.Units, &we.Gas,
		&stored.merchantID, &stored.current, &stored.previous)
	if err != nil {
		return withdrawalEvent{}, fmt.Errorf("webhook: read withdrawal event %d: %w", eventID, err)
	}
	if we.Secret, err = stored.open(r.secrets); err != nil {
		return withdrawalEvent{}, fmt.Errorf("webhook: withdrawal event %d: %w", eventID, err)
	}
	return we, nil
}

// withdrawalPayload builds the body of we; chains says what its currency
// and the coin paying its gas are.
func withdrawalPayload(we withdrawalEvent, chains *chain.Registry) (WithdrawalPayload, error) {
	fee, _ := chains.FeeOf(we.Currency)
	gc := fee.Code
	dec, _ := chains.DecimalsOf(we.Currency)
	amt, err := amount.FormatString(we.Units, dec)
	if err != nil {
		return WithdrawalPayload{}, fmt.Errorf("webhook: withdrawal %d: %w", we.WithdrawalID, err)
	}
	gasDec := fee.Decimals
	gas, err := amount.FormatString(we.Gas, gasDec)
	if err != nil {
		return WithdrawalPayload{}, fmt.Errorf("webhook: withdrawal %d gas: %w", we.WithdrawalID, err)
	}
	var confirmed int64
	if we.Status != 0 {
		confirmed = we.At.Unix()
	}
	return WithdrawalPayload{
		ID: we.WithdrawalID, Address: we.Address, Currency: we.Currency, Amount: json.Number(amt), TxID: we.TxID,
		Gas: json.Number(gas), TimeCreated: we.Created.Unix(), TimeConfirmed: confirmed, Status: we.Status,
		EventID: we.EventID, Kind: FlavourWithdrawal, ExtID: we.ExtID, GasCurrency: gc,
		AmountBaseUnits: we.Units, GasBaseUnits: we.Gas,
	}, nil
}

// params is p as query parameters, in the body's order.
func (p WithdrawalPayload) params() [][2]string {
	return [][2]string{
		{"id", strconv.FormatInt(p.ID, 10)}, {"address", p.Address}, {"currency", p.Currency},
		{"amount", p.Amount.String()}, {"txid", p.TxID}, {"gas", p.Gas.String()},
		{"timeCreated", strconv.FormatInt(p.TimeCreated, 10)}, {"timeConfirmed", strconv.FormatInt(p.TimeConfirmed, 10)},
		{"status", strconv.Itoa(p.Status)}, {"event_id", strconv.FormatInt(p.EventID, 10)}, {"kind", p.Kind},
		{"ext_id", p.ExtID}, {"gas_currency", p.GasCurrency}, {"amount_base_units", p.AmountBaseUnits},
		{"gas_base_units", p.GasBaseUnits},
	}
}

// withdrawal sends a withdrawal event; like iqpay's deposit webhooks, only
// HTTP 200 acknowledges.
func (r *runner) withdrawal(ctx context.Context, j *job, we withdrawalEvent) outcome {
	p, err := withdrawalPayload(we, r.chains)
	if err != nil {
		return outcome{err: err.Error()}
	}
	req, err := iqpayRequest(FlavourWithdrawal, p.Kind, j.Method, j.URL, p, p.params())
	if err != nil {
		return notSent(err)
	}
	return r.sendIqpay(ctx, j, we.Secret, req)
}
