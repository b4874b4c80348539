package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/merchant"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/sweep"
	"github.com/sluicepay/sluice/payments/webhook"
)

// Currency is a currency this sluice takes, as GET /currencies lists it.
type Currency struct {
	Currency      string `json:"currency"`
	Chain         string `json:"chain"`
	Network       string `json:"network"`
	Decimals      int    `json:"decimals"`
	Confirmations int    `json:"confirmations"` // the calling merchant's, else the default
	Contract      string `json:"contract,omitempty"`
	// Withdrawals: the smallest amount, and the network fee reserved on top
	// of it until the withdrawal confirms (in WithdrawalFeeCurrency, the
	// chain's native coin, from the merchant's own balance of it).
	WithdrawalMinimum     string `json:"withdrawalMinimum,omitempty"`
	WithdrawalFeeReserve  string `json:"withdrawalFeeReserve,omitempty"`
	WithdrawalFeeCurrency string `json:"withdrawalFeeCurrency,omitempty"`
	// WithdrawalsPaused: the operator paused them (a solvency check or a
	// reorg); requests get 503 until resumed.
	WithdrawalsPaused bool `json:"withdrawalsPaused"`

	Policy sweep.Policy `json:"-"`
}

// Merchant is what the merchant-facing routes need.
type Merchant struct {
	// Ledger reads and writes the merchants' wallets and deposits; its
	// pool is passed on to the typed reads and writes of keys,
	// settlements, withdrawals and webhook deliveries (no SQL in api).
	Ledger  *payments.Ledger
	Limiter *merchant.RateLimiter
	// IPLimits limits, per source IP, keyless receive calls and failed
	// authentications (nil: no limits).
	IPLimits *merchant.IPLimiter
	// Currencies enabled on this sluice, by code (BTC, LTC, ETH, USDT).
	Currencies map[string]Currency
	// Synced answers whether a chain's index is close enough to its node's
	// tip to take payments (nil error); wallets of a lagging chain get 503.
	Synced func(ctx context.Context, chain string) error
	// CheckTarget validates a callback URL (scheme, private networks).
	CheckTarget func(ctx context.Context, rawURL string) error
	// CheckDomain refuses a litepay callback URL whose domain is blocked
	// (dead: its callbacks failed for receive.block_dead_after); nil: none.
	CheckDomain func(ctx context.Context, rawURL string) error
	// ReceiveFee is the litepay forwarding fee, an exact decimal fraction ("0.01").
	ReceiveFee string
	// ReceiveMerchant serves keyless litepay receive calls (drop-in use);
	// 0 requires an API key there too.
	ReceiveMerchant int64
}

// merchantAPI serves the iqpay-compatible routes and the reconciliation
// reads. Errors are {"status": <code>, "message": "..."}, like its successes'
// {"status": 200, "data": ...}.
type merchantAPI struct {
	Merchant
	refused *prometheus.CounterVec // requests refused by a rate limit, by reason
}

func (m *merchantAPI) routes(r *gin.Engine) {
	r.GET("/currencies", m.auth(""), m.currencies)
	r.POST("/wallet/create/:currency", m.auth(merchant.ScopeWallet), m.createWallet)
	r.GET("/wallet/:address", m.auth(merchant.ScopeRead), m.wallet)
	r.GET("/deposits", m.auth(merchant.ScopeRead), m.deposits)
	r.GET("/webhooks/deliveries", m.auth(merchant.ScopeRead), m.deliveries)
	r.POST("/webhooks/deliveries/:id/redeliver", m.auth(merchant.ScopeWebhooks), m.redeliver)
	r.POST("/withdrawal/create/:currency", m.auth(merchant.ScopeWithdraw), m.createWithdrawal)
	r.GET("/withdrawal/:id", m.auth(merchant.ScopeRead), m.withdrawal)
	r.GET("/settlement/:currency", m.auth(merchant.ScopeRead), m.settlement)
	r.PUT("/settlement/:currency", m.auth(merchant.ScopeWithdraw), m.setSettlement)
	r.GET("/api/receive", m.receive)
}

func fail(c *gin.Context, code int, format string, args ...any) {
	c.AbortWithStatusJSON(code, gin.H{"status": code, "message": fmt.Sprintf(format, args...)})
}

func ok(c *gin.Context, data any) {
	c.JSON(http.StatusOK, gin.H{"status": http.StatusOK, "data": data})
}

const principalKey = "sluice.principal"

func principal(c *gin.Context) merchant.Principal {
	p, _ := c.Get(principalKey)
	return p.(merchant.Principal)
}

// auth checks the API key (Authorization header), its network, expiry,
// scope ("" = any key) and rate limit, with iqpay's status codes.
func (m *merchantAPI) auth(scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, code, err := m.authenticate(c, c.GetHeader("Authorization"))
		if err != nil {
			fail(c, code, "%s", err)
			return
		}
		if scope != "" && !p.Can(scope) {
			fail(c, http.StatusPaymentRequired, "this API key may not %s (it lacks the %q scope)", scopeAction[scope], scope)
			return
		}
		c.Set(principalKey, p)
	}
}

var scopeAction = map[string]string{
	merchant.ScopeWallet: "create wallets", merchant.ScopeRead: "read deposits and wallets",
	merchant.ScopeWebhooks: "redeliver webhooks", merchant.ScopeReceive: "create receive addresses",
	merchant.ScopeWithdraw: "withdraw",
}

// authenticate returns the key's principal, or the status and error to
// answer. An IP with too many failed authentications is refused (429)
// before its key is looked at; a failure counts towards that.
func (m *merchantAPI) authenticate(c *gin.Context, key string) (merchant.Principal, int, error) {
	ip := c.ClientIP()
	if m.IPLimits != nil {
		if wait, _ := m.IPLimits.Blocked(c.Request.Context(), ip); wait > 0 {
			return m.authBlocked(c, ip, wait)
		}
	}
	p, code, err := m.checkKey(c, key, ip)
	if (code == http.StatusUnauthorized || code == http.StatusForbidden) && m.IPLimits != nil {
		if wait, _ := m.IPLimits.Failed(c.Request.Context(), ip); wait > 0 {
			return m.authBlocked(c, ip, wait)
		}
	}
	if err != nil {
		return p, code, err
	}
	if m.Limiter != nil {
		allowed, retry, _ := m.Limiter.Allow(c.Request.Context(), p)
		if !allowed {
			m.refuse(refusedKeyLimit)
			retryAfter(c, retry)
			return p, http.StatusTooManyRequests, errors.New("rate limit of this API key exceeded; retry after the Retry-After seconds")
		}
	}
	return p, 0, nil
}

// authBlocked is the answer to an IP blocked for failed authentications.
func (m *merchantAPI) authBlocked(c *gin.Context, ip string, wait time.Duration) (merchant.Principal, int, error) {
	m.refuse(refusedFailedAuth)
	retryAfter(c, wait)
	return merchant.Principal{}, http.StatusTooManyRequests, fmt.Errorf("too many failed authentications from %s: API keys from this IP are refused for %s; retry after the Retry-After seconds",
		ip, wait.Round(time.Second))
}

func (m *merchantAPI) refuse(reason string) {
	if m.refused != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

// checkKey looks the key up: its principal, or the status and error to answer.
func (m *merchantAPI) checkKey(c *gin.Context, key, ip string) (merchant.Principal, int, error) {
	if strings.TrimSpace(key) == "" {
		return merchant.Principal{}, http.StatusUnauthorized, errors.New("missing API key: send it in the Authorization header")
	}
	client, _ := netip.ParseAddr(ip)
	p, err := merchant.Authenticate(c.Request.Context(), m.Ledger.DB, key, client)
	switch {
	case errors.Is(err, merchant.ErrExpiredKey):
		return p, http.StatusForbidden, err
	case errors.Is(err, merchant.ErrInvalidKey), errors.Is(err, merchant.ErrRevokedKey), errors.Is(err, merchant.ErrNetwork):
		return p, http.StatusUnauthorized, err
	case err != nil:
		return p, http.StatusServiceUnavailable, errors.New("the ledger is unavailable; retry shortly")
	}
	return p, 0, nil
}

func (m *merchantAPI) currencies(c *gin.Context) {
	out := make([]Currency, 0, len(m.Currencies))
	paused := map[string]bool{}
	if ps, err := sweep.Pauses(c.Request.Context(), m.Ledger.DB); err != nil {
		m.ledgerError(c, err)
		return
	} else {
		for _, p := range ps {
			paused[p.Currency] = true
		}
	}
	// the calling merchant's own confirmation counts, where it set them
	own, err := m.Ledger.Confirmations(c.Request.Context(), principal(c).MerchantID)
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	for _, cur := range m.Currencies {
		if n, found := own[cur.Currency]; found && n > 0 {
			cur.Confirmations = n
		}
		cur.WithdrawalsPaused = paused[cur.Currency] || paused[cur.Policy.FeeCurrency]
		if cur.Policy.FeeReserve != nil {
			r, err := sweep.Reserve(c.Request.Context(), m.Ledger.DB, cur.Currency, cur.Policy)
			if err != nil {
				m.ledgerError(c, err)
				return
			}
			cur.WithdrawalFeeReserve = amount.Format(r, m.decimals(cur.Policy.FeeCurrency))
		}
		out = append(out, cur)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	ok(c, out)
}

// currency resolves a currency code from a request, or answers 400.
func (m *merchantAPI) currency(c *gin.Context, code string) (Currency, bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if cur, found := m.Currencies[code]; found {
		return cur, true
	}
	if _, known := chain.Builtin(code); known {
		fail(c, http.StatusBadRequest, "%s is not enabled on this sluice (enabled: %s)", code, strings.Join(m.codes(), ", "))
	} else {
		fail(c, http.StatusBadRequest, "unknown currency %q (enabled: %s)", code, strings.Join(m.codes(), ", "))
	}
	return Currency{}, false
}

// decimals of a currency as configured; a currency no longer enabled keeps
// its deposits, printed with its built-in decimals.
func (m *merchantAPI) decimals(code string) int {
	d, _ := m.decimalsOK(code)
	return d
}

// decimalsOK is decimals and whether the code is known at all.
func (m *merchantAPI) decimalsOK(code string) (int, bool) {
	if cur, ok := m.Currencies[code]; ok {
		return cur.Decimals, true
	}
	return chain.Decimals(code)
}

func (m *merchantAPI) codes() []string {
	out := make([]string, 0, len(m.Currencies))
	for k := range m.Currencies {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// synced answers 503 while the chain's index lags its node.
func (m *merchantAPI) synced(c *gin.Context, chain string) bool {
	if m.Synced == nil {
		return true
	}
	if err := m.Synced(c.Request.Context(), chain); err != nil {
		fail(c, http.StatusServiceUnavailable, "%s is not synced yet: %s; retry shortly", chain, err)
		return false
	}
	return true
}

// extID reads {"extId": ...}: a string, or a number as iqpay's examples send it.
func extID(c *gin.Context) (string, bool) {
	var body struct {
		ExtID json.RawMessage `json:"extId"`
	}
	if !decodeBody(c, &body, `{"extId": "customer-42"}`) {
		return "", false
	}
	id, err := parseExtID(body.ExtID)
	if err != nil {
		fail(c, http.StatusBadRequest, "%s", err)
		return "", false
	}
	return id, true
}

// parseExtID reads an extId as sent: a JSON string, or a number as iqpay's
// examples send it, kept by its decimal text as written (1.50 and 1.5 are
// two extIds, as "1.50" and "1.5" are); anything else is refused, and so
// is text that is not UTF-8 or that payments.ValidExtID refuses.
func parseExtID(raw json.RawMessage) (string, error) {
	if err := checkJSONText(raw); err != nil {
		return "", fmt.Errorf("extId: %w", err)
	}
	text := strings.TrimSpace(string(raw))
	var id string
	switch {
	case text == "" || text == "null":
		return "", errors.New("extId is missing: send {\"extId\": \"customer-42\"}")
	case text[0] == '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", fmt.Errorf("extId: %w", err)
		}
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", errors.New("extId must be a string or a number")
		}
		id = n.String()
	}
	return id, payments.ValidExtID(id)
}

func (m *merchantAPI) createWallet(c *gin.Context) {
	cur, found := m.currency(c, c.Param("currency"))
	if !found {
		return
	}
	id, valid := extID(c)
	if !valid || !m.synced(c, cur.Chain) {
		return
	}
	w, _, err := m.Ledger.WalletFor(c.Request.Context(), principal(c).MerchantID, cur.Currency, id)
	if err != nil && w.Address == "" {
		m.ledgerError(c, err)
		return
	}
	// err with an address: created, the watch set is updated later (logged by the caller's log)
	ok(c, gin.H{"publicKey": w.Address, "tag": "", "currency": cur.Currency, "extId": w.ExtID, "watchOnly": w.WatchOnly})
}

func (m *merchantAPI) ledgerError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, payments.ErrNotReady):
		c.Header("Retry-After", "5")
		fail(c, http.StatusServiceUnavailable, "%s", err)
	case errors.Is(err, payments.ErrNoSeed):
		fail(c, http.StatusServiceUnavailable, "this sluice has no master seed configured (payments.seed_file); the operator must set one")
	case errors.Is(err, payments.ErrUnknownCurrency):
		fail(c, http.StatusBadRequest, "%s", err)
	default:
		_ = c.Error(err)
		fail(c, http.StatusInternalServerError, "internal error; the server log has details")
	}
}

// depositJSON is a deposit as the API shows it: the amount both as an exact
// decimal and in base units; times in unix seconds (iqpay's format).
type depositJSON struct {
	ID            int64  `json:"id"`
	Address       string `json:"address"`
	ExtID         string `json:"extId"`
	Currency      string `json:"currency"`
	Amount        string `json:"amount"`
	AmountUnits   string `json:"amount_base_units"`
	TxID          string `json:"txid"`
	Position      string `json:"position"`
	From          string `json:"fromAddress"`
	Confirmations int    `json:"confirmations"`
	Status        int    `json:"status"`
	BlockHeight   *int64 `json:"block_height"`
	Created       int64  `json:"timeCreated"`
	Updated       int64  `json:"timeUpdated"`
}

// DepositPage is the most GET /deposits returns at once.
const DepositPage = 500

func (m *merchantAPI) deposits(c *gin.Context) {
	q := c.Request.URL.Query()
	after, limit := int64(0), 100
	if s := q.Get("cursor"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			fail(c, http.StatusBadRequest, "cursor %q: use the next_cursor of the previous page", s)
			return
		}
		after = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > DepositPage {
			fail(c, http.StatusBadRequest, "limit %q: from 1 to %d", s, DepositPage)
			return
		}
		limit = v
	}
	currency := ""
	if s := q.Get("currency"); s != "" {
		cur, found := m.currency(c, s)
		if !found {
			return
		}
		currency = cur.Currency
	}
	status := -1
	if s := q.Get("status"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 2 {
			fail(c, http.StatusBadRequest, "status %q: 0 (seen), 1 (confirmed) or 2 (failed)", s)
			return
		}
		status = v
	}
	f := payments.ListFilter{MerchantID: principal(c).MerchantID, Currency: currency, ExtID: q.Get("extId"), Address: q.Get("address"),
		Oldest: true, After: after, Limit: limit + 1}
	if status >= 0 {
		f.Status = &status
	}
	out, err := m.listDeposits(c.Request.Context(), f)
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	c.JSON(http.StatusOK, gin.H{"status": http.StatusOK, "data": out, "next_cursor": next})
}

// listDeposits reads the deposits f selects, as the API shows them.
func (m *merchantAPI) listDeposits(ctx context.Context, f payments.ListFilter) ([]depositJSON, error) {
	if f.MerchantID == 0 {
		return nil, errors.New("listing deposits without a merchant") // 0 would be every merchant's
	}
	rows, err := m.Ledger.ListDeposits(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]depositJSON, 0, len(rows))
	for _, r := range rows {
		d := depositJSON{ID: r.ID, Address: r.Address, ExtID: r.ExtID, Currency: r.Currency, AmountUnits: r.Amount,
			TxID: r.TxID, Position: r.Position, From: r.From, Confirmations: r.Confirmations, Status: r.Status,
			BlockHeight: r.BlockHeight, Created: unixSeconds(r.CreatedAt), Updated: unixSeconds(r.UpdatedAt)}
		if d.Amount, err = amount.FormatString(r.Amount, m.decimals(r.Currency)); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// unixSeconds is a time in unix seconds to the nearest second, as the API
// has always shown them (Postgres' extract(epoch FROM t)::bigint rounds).
func unixSeconds(t time.Time) int64 { return t.Round(time.Second).Unix() }

func (m *merchantAPI) wallet(c *gin.Context) {
	addr := c.Param("address")
	type receiveJSON struct {
		Destination string `json:"destination"`
		Expired     bool   `json:"expired"`
		TimeExpired int64  `json:"timeExpired"`
	}
	var w struct {
		ID        int64        `json:"-"`
		Address   string       `json:"publicKey"`
		Currency  string       `json:"currency"`
		ExtID     string       `json:"extId"`
		WatchOnly bool         `json:"watchOnly"`
		Created   int64        `json:"timeCreated"`
		Receive   *receiveJSON `json:"receive,omitempty"`
	}
	found, err := m.Ledger.WalletByAddress(c.Request.Context(), principal(c).MerchantID, addr)
	if errors.Is(err, payments.ErrNoWallet) {
		fail(c, http.StatusNotFound, "no wallet %q of this merchant", addr)
		return
	}
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	w.ID, w.Address, w.Currency, w.ExtID, w.WatchOnly = found.ID, found.Address, found.Currency, found.ExtID, found.WatchOnly
	w.Created = unixSeconds(found.CreatedAt)
	if r := found.Receive; r != nil {
		w.Receive = &receiveJSON{Destination: r.Destination}
		if r.ExpiredAt != nil {
			w.Receive.Expired, w.Receive.TimeExpired = true, unixSeconds(*r.ExpiredAt)
		}
	}
	deps, err := m.listDeposits(c.Request.Context(), payments.ListFilter{MerchantID: principal(c).MerchantID, WalletID: w.ID,
		Oldest: true, Limit: DepositPage})
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	ok(c, gin.H{"wallet": w, "deposits": deps})
}

// deliveries is the webhook delivery log: ?state=&flavour=&deposit_id=&withdrawal_id=&event_id=&cursor=&limit=
func (m *merchantAPI) deliveries(c *gin.Context) {
	q := c.Request.URL.Query()
	f := webhook.ListFilter{State: q.Get("state"), Flavour: q.Get("flavour"), Cursor: q.Get("cursor")}
	for _, n := range []struct {
		name string
		dst  *int64
	}{{"deposit_id", &f.DepositID}, {"withdrawal_id", &f.WithdrawalID}, {"event_id", &f.EventID}} {
		if s := q.Get(n.name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v <= 0 {
				fail(c, http.StatusBadRequest, "%s %q is not an id", n.name, s)
				return
			}
			*n.dst = v
		}
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			fail(c, http.StatusBadRequest, "limit %q is not a number", s)
			return
		}
		f.Limit = v
	}
	out, next, err := webhook.ListDeliveries(c.Request.Context(), m.Ledger.DB, principal(c).MerchantID, f)
	if errors.Is(err, webhook.ErrBadFilter) {
		fail(c, http.StatusBadRequest, "%s", err)
		return
	}
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	if out == nil {
		out = []webhook.Delivery{}
	}
	c.JSON(http.StatusOK, gin.H{"status": http.StatusOK, "data": out, "next_cursor": next})
}

func (m *merchantAPI) redeliver(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, http.StatusBadRequest, "delivery id %q is not a number", c.Param("id"))
		return
	}
	d, err := webhook.Redeliver(c.Request.Context(), m.Ledger.DB, principal(c).MerchantID, id)
	if errors.Is(err, webhook.ErrNotFound) {
		fail(c, http.StatusNotFound, "no webhook delivery %d of this merchant", id)
		return
	}
	if err != nil {
		m.ledgerError(c, err)
		return
	}
	ok(c, d)
}
