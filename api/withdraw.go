package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/merchant"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/sweep"
)

// withdrawalJSON is iqpay's withdrawal shape: amounts as exact JSON numbers
// (never floats), times in unix seconds.
func (m *merchantAPI) withdrawalJSON(w sweep.Withdrawal) gin.H {
	dec, _ := m.decimalsOK(w.Currency)
	confirmed := int64(0)
	if w.TimeConfirmed != nil {
		confirmed = w.TimeConfirmed.Unix()
	}
	gasDec := dec
	if d, found := m.decimalsOK(w.FeeCurrency); found {
		gasDec = d // a token's gas is paid in the chain's coin
	}
	return gin.H{"id": w.ID, "extId": w.ExtID, "address": w.Address, "currency": w.Currency,
		"amount": json.Number(amount.Format(w.Amount, dec)), "txid": w.TxID, "gas": json.Number(amount.Format(w.Gas, gasDec)),
		"timeCreated": w.TimeCreated.Unix(), "timeConfirmed": confirmed, "status": w.Status}
}

// createWithdrawal is POST /withdrawal/create/:currency {"address", "amount", "extId"}.
func (m *merchantAPI) createWithdrawal(c *gin.Context) {
	p := principal(c)
	if !p.Bound {
		fail(c, http.StatusPaymentRequired, "withdrawals need an API key bound to IPs (sluice merchant key create --scope withdraw --allow-ip ...)")
		return
	}
	cur, found := m.currency(c, c.Param("currency"))
	if !found {
		return
	}
	var body struct {
		Address string          `json:"address"`
		Amount  json.RawMessage `json:"amount"`
		ExtID   json.RawMessage `json:"extId"`
	}
	if !decodeBody(c, &body, `{"address": "...", "amount": "0.5", "extId": "payout-1"}`) {
		return
	}
	ext, err := parseExtID(body.ExtID)
	if err != nil {
		fail(c, http.StatusBadRequest, "%s (it makes a retried request return the first withdrawal)", err)
		return
	}
	// the amount as written, a JSON string or number, read exactly
	text := strings.Trim(strings.TrimSpace(string(body.Amount)), `"`)
	units, err := amount.Parse(text, cur.Decimals)
	if err != nil || units.Sign() <= 0 {
		if err == nil {
			err = errors.New("it must be more than zero")
		}
		fail(c, http.StatusBadRequest, "amount: %s", err)
		return
	}
	if err := validDestination(cur, body.Address); err != nil {
		fail(c, http.StatusBadRequest, "address: %s", err)
		return
	}
	w, _, err := sweep.CreateWithdrawal(c.Request.Context(), m.Ledger.DB, p.MerchantID, cur.Currency, ext, body.Address, units, cur.Policy)
	switch {
	case errors.Is(err, sweep.ErrPaused):
		c.Header("Retry-After", "600")
		fail(c, http.StatusServiceUnavailable, "%s; GET /currencies shows when they resume", err)
		return
	case errors.Is(err, sweep.ErrInsufficient), errors.Is(err, sweep.ErrExtIDReused), errors.Is(err, sweep.ErrBelowMinimum):
		fail(c, http.StatusBadRequest, "%s", err)
		return
	case err != nil:
		m.ledgerError(c, err)
		return
	}
	ok(c, m.withdrawalJSON(w))
}

// withdrawal is GET /withdrawal/:id.
func (m *merchantAPI) withdrawal(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, http.StatusBadRequest, "withdrawal id %q is not a number", c.Param("id"))
		return
	}
	w, err := sweep.GetWithdrawal(c.Request.Context(), m.Ledger.DB, principal(c).MerchantID, id)
	if err != nil {
		if strings.Contains(err.Error(), "no rows") {
			fail(c, http.StatusNotFound, "no withdrawal %d of this merchant", id)
			return
		}
		m.ledgerError(c, err)
		return
	}
	ok(c, m.withdrawalJSON(w))
}

// validDestination checks an address for the currency's network.
func validDestination(cur Currency, addr string) error {
	return payments.ValidAddress(cur.Chain, cur.Network, addr)
}

// settlement is GET /settlement/:currency.
func (m *merchantAPI) settlement(c *gin.Context) {
	cur, found := m.currency(c, c.Param("currency"))
	if !found {
		return
	}
	s, err := merchant.GetSettlement(c.Request.Context(), m.Ledger.DB, principal(c).MerchantID, cur.Currency)
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	ok(c, s)
}

// setSettlement is PUT /settlement/:currency {"address", "batchWindow", "minAmount"}:
// where and when the merchant's deposits are swept. The service fee is the
// operator's to set (sluice merchant update), not the merchant's.
func (m *merchantAPI) setSettlement(c *gin.Context) {
	if !principal(c).Bound {
		fail(c, http.StatusPaymentRequired, "changing where money goes needs an API key bound to IPs, as withdrawals do")
		return
	}
	cur, found := m.currency(c, c.Param("currency"))
	if !found {
		return
	}
	var body struct {
		Address     *string `json:"address"`
		BatchWindow *string `json:"batchWindow"`
		MinAmount   *string `json:"minAmount"`
	}
	if !decodeBody(c, &body, `{"address": "...", "batchWindow": "1h", "minAmount": "0.01"}`) {
		return
	}
	ch := merchant.SettlementChange{Address: body.Address}
	if body.BatchWindow != nil {
		d, err := time.ParseDuration(*body.BatchWindow)
		if err != nil || d < 0 {
			fail(c, http.StatusBadRequest, "batchWindow %q: a duration such as 30m or 2h", *body.BatchWindow)
			return
		}
		ch.BatchWindow = &d
	}
	if body.MinAmount != nil {
		v, err := amount.Parse(*body.MinAmount, cur.Decimals)
		if err != nil {
			fail(c, http.StatusBadRequest, "minAmount: %s", err)
			return
		}
		ch.MinAmount = v
	}
	s, err := merchant.UpdateSettlement(c.Request.Context(), m.Ledger.DB, principal(c).MerchantID, cur.Currency, ch,
		func(_, addr string) error { return payments.ValidAddress(cur.Chain, cur.Network, addr) })
	if err != nil {
		if strings.Contains(err.Error(), "ledger:") {
			m.ledgerError(c, err)
			return
		}
		fail(c, http.StatusBadRequest, "%s", err)
		return
	}
	ok(c, s)
}
