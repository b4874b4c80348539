// Package ledger reads the books: per merchant and currency what came in,
// what went out and what is left, and checks them against the chain index.
package ledger

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
)

// Row is one merchant's books in one currency, base units.
type Row struct {
	MerchantID int64  `json:"merchant_id"`
	Currency   string `json:"currency"`
	// Deposited is what confirmed deposits brought (donations included).
	Deposited string `json:"deposited"`
	Donations string `json:"donations"`
	// Fees is the service fees taken by confirmed sweeps; NetworkFees what
	// those sweeps paid the network in this currency (a token sweep's gas
	// comes from the operator's gas tank, not the merchant).
	Fees        string `json:"service_fees"`
	NetworkFees string `json:"network_fees"`
	// Settled reached the merchant's settlement address; ToHot the hot
	// wallet (the balance); Forwarded litepay destinations.
	Settled   string `json:"settled"`
	ToHot     string `json:"to_hot_wallet"`
	Forwarded string `json:"forwarded"`
	// Withdrawn is sent or confirmed withdrawals of the currency, and the
	// network fees paid in it (a token withdrawal's gas is in the chain's
	// coin's row); an open withdrawal counts its reserved fee.
	Withdrawn string `json:"withdrawn"`
	// Balance is what the merchant may withdraw: ToHot - Withdrawn.
	Balance string `json:"balance"`
	// Unswept is confirmed deposits not yet in a confirmed sweep.
	Unswept string `json:"unswept"`
	// Decimals of the currency as the ledger recorded it (its currencies
	// table), else the built-in's.
	Decimals int `json:"-"`
}

// View reads the books of one merchant (0: every merchant) in one query,
// so the figures are of one moment.
func View(ctx context.Context, db *pgxpool.Pool, merchantID int64) ([]Row, error) {
	rows, err := db.Query(ctx, `WITH mc AS (
			SELECT DISTINCT w.merchant_id, w.currency FROM wallets w WHERE $1 = 0 OR w.merchant_id = $1
			UNION SELECT merchant_id, currency FROM sweeps WHERE merchant_id IS NOT NULL AND ($1 = 0 OR merchant_id = $1)
			UNION SELECT merchant_id, fee_currency FROM withdrawals WHERE $1 = 0 OR merchant_id = $1
		), dep AS (
			SELECT w.merchant_id, d.currency, sum(d.amount) AS deposited,
				sum(d.amount) FILTER (WHERE d.donation) AS donations,
				sum(d.amount) FILTER (WHERE NOT d.donation AND (d.sweep_id IS NULL OR s.state <> 'confirmed')) AS unswept
			FROM deposits d JOIN wallets w ON w.id = d.wallet_id LEFT JOIN sweeps s ON s.id = d.sweep_id
			WHERE d.status = 1 GROUP BY 1, 2
		), sw AS (
			SELECT merchant_id, currency, sum(fee_service) AS fees, sum(fee_network) FILTER (WHERE kind <> 'withdraw' AND (currency = upper(chain)
				OR currency IN (SELECT code FROM currencies c WHERE c.chain = sweeps.chain AND c.contract = ''))) AS network,
				sum(amount) FILTER (WHERE kind = 'settle') AS settled, sum(amount) FILTER (WHERE kind = 'hot') AS hot,
				sum(amount) FILTER (WHERE kind = 'forward') AS forwarded
			FROM sweeps WHERE state = 'confirmed' AND merchant_id IS NOT NULL GROUP BY 1, 2
		), wd AS (
			SELECT merchant_id, currency, sum(v) AS withdrawn FROM (
				SELECT merchant_id, currency, amount AS v FROM withdrawals WHERE status IN (0, 1)
				UNION ALL SELECT merchant_id, fee_currency, CASE WHEN status = 0 THEN greatest(gas, fee_reserved) ELSE gas END
				FROM withdrawals WHERE status IN (0, 1)) x GROUP BY 1, 2
		)
		SELECT mc.merchant_id, mc.currency, coalesce(dep.deposited, 0)::text, coalesce(dep.donations, 0)::text,
			coalesce(sw.fees, 0)::text, coalesce(sw.network, 0)::text, coalesce(sw.settled, 0)::text, coalesce(sw.hot, 0)::text,
			coalesce(sw.forwarded, 0)::text, coalesce(wd.withdrawn, 0)::text,
			merchant_balance(mc.merchant_id, mc.currency)::text, coalesce(dep.unswept, 0)::text,
			coalesce((SELECT decimals FROM currencies c WHERE c.code = mc.currency), -1)
		FROM mc LEFT JOIN dep USING (merchant_id, currency) LEFT JOIN sw USING (merchant_id, currency)
			LEFT JOIN wd USING (merchant_id, currency)
		ORDER BY 1, 2`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.MerchantID, &r.Currency, &r.Deposited, &r.Donations, &r.Fees, &r.NetworkFees, &r.Settled, &r.ToHot,
			&r.Forwarded, &r.Withdrawn, &r.Balance, &r.Unswept, &r.Decimals); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		if r.Decimals < 0 {
			r.Decimals, _ = chain.Decimals(r.Currency)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Decimal shows a base-unit figure of r as an exact decimal of its currency.
func (r Row) Decimal(units string) string {
	v, ok := new(big.Int).SetString(units, 10)
	if !ok {
		return units
	}
	return amount.Format(v, r.Decimals)
}
