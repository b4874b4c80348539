package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sluicepay/sluice/merchant"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/webhook"
)

// CallbackMax is litepay's limit on callback URLs.
const CallbackMax = 255

// HeaderStatus carries, on litepay's route, the status an error would have
// had: litepay answers every error with 200 (its PHP example reads replies
// with file_get_contents, which returns false on a 4xx), so logs and
// proxies see 200; this header keeps the cause visible.
const HeaderStatus = "X-Sluice-Status"

// litepayError answers an error of litepay's route as its spec does: HTTP
// 200, {"status":"error","message":...}; code goes in X-Sluice-Status.
func litepayError(c *gin.Context, code int, msg string) {
	c.Header(HeaderStatus, strconv.Itoa(code))
	c.AbortWithStatusJSON(http.StatusOK, errorBody(msg))
}

// receive is litepay's GET /api/receive: a fresh forwarding address per
// call. Its errors are litepay's: HTTP 200 with {"status":"error",
// "message":...} (the status it would have had in X-Sluice-Status).
func (m *merchantAPI) receive(c *gin.Context) {
	bad := func(code int, msg string) { litepayError(c, code, msg) }
	p, found := merchant.Principal{MerchantID: m.ReceiveMerchant, Scopes: []string{merchant.ScopeReceive}}, m.ReceiveMerchant != 0
	if key := c.GetHeader("Authorization"); key != "" || !found {
		var code int
		var err error
		if p, code, err = m.authenticate(c, key); err != nil {
			bad(code, err.Error())
			return
		}
	} else if m.IPLimits != nil {
		// keyless: each call makes a wallet, so an IP may make only so many
		if allowed, wait, _ := m.IPLimits.AllowUnauthenticated(c.Request.Context(), c.ClientIP()); !allowed {
			m.refuse(refusedUnauthenticated)
			retryAfter(c, wait)
			bad(http.StatusTooManyRequests, "too many receive calls without an API key from "+c.ClientIP()+"; retry after the Retry-After seconds, or send an API key")
			return
		}
	}
	if !p.Can(merchant.ScopeReceive) {
		bad(http.StatusPaymentRequired, "this API key may not create receive addresses (it lacks the \"receive\" scope)")
		return
	}
	q := c.Request.URL.Query()
	method := strings.ToLower(strings.TrimSpace(q.Get("method")))
	if method == "" {
		bad(http.StatusBadRequest, "method is missing: btc or ltc")
		return
	}
	var cur Currency
	switch method {
	case "btc", "ltc":
		var ok bool
		if cur, ok = m.Currencies[strings.ToUpper(method)]; !ok {
			bad(http.StatusBadRequest, "method "+method+" is not enabled on this sluice")
			return
		}
	default:
		bad(http.StatusBadRequest, "method "+q.Get("method")+" is not supported: btc or ltc")
		return
	}
	dest := strings.TrimSpace(q.Get("address"))
	if dest == "" {
		bad(http.StatusBadRequest, "address is missing: the "+cur.Currency+" address payments are forwarded to")
		return
	}
	if err := validDestination(cur, dest); err != nil {
		bad(http.StatusBadRequest, "address: "+err.Error())
		return
	}
	callbackReq := true
	switch q.Get("callback_req") {
	case "", "1":
	case "0":
		callbackReq = false
	default:
		bad(http.StatusBadRequest, "callback_req must be 0 or 1")
		return
	}
	callback := q.Get("callback")
	switch {
	case callbackReq && callback == "":
		bad(http.StatusBadRequest, "You requested callback_req 1 and no callback_url")
		return
	case len(callback) > CallbackMax:
		bad(http.StatusBadRequest, "the callback URL is longer than 255 characters")
		return
	case callback != "" && m.CheckTarget != nil:
		if err := m.CheckTarget(c.Request.Context(), callback); err != nil {
			bad(http.StatusBadRequest, "callback: "+err.Error())
			return
		}
	}
	if err := webhook.CheckOwnQuery(webhook.FlavourLitepay, http.MethodGet, callback); err != nil {
		bad(http.StatusBadRequest, "callback: "+err.Error())
		return
	}
	if callback != "" && m.CheckDomain != nil {
		if err := m.CheckDomain(c.Request.Context(), callback); errors.Is(err, webhook.ErrDomainBlocked) {
			bad(http.StatusBadRequest, err.Error())
			return
		} else if err != nil {
			_ = c.Error(err)
			bad(http.StatusServiceUnavailable, "the ledger is unavailable; retry shortly")
			return
		}
	}
	if m.Synced != nil {
		if err := m.Synced(c.Request.Context(), cur.Chain); err != nil {
			bad(http.StatusServiceUnavailable, cur.Chain+" is not synced yet: "+err.Error()+"; retry shortly")
			return
		}
	}
	w, err := m.newReceiveAddress(c, p.MerchantID, cur.Currency, dest, callback, callbackReq)
	if err != nil {
		_ = c.Error(err)
		if errors.Is(err, errNoSeedReceive) {
			bad(http.StatusServiceUnavailable, err.Error())
			return
		}
		bad(http.StatusInternalServerError, "internal error; the server log has details")
		return
	}
	req := "0"
	if callbackReq {
		req = "1"
	}
	c.JSON(http.StatusOK, gin.H{"callback_url": callback, "input_address": w, "destination": dest,
		"fee_percent": m.ReceiveFee, "callback_req": req})
}

var errNoSeedReceive = errors.New("this sluice has no master seed configured (payments.seed_file); the operator must set one")

// newReceiveAddress makes a wallet of its own for one receive call (litepay
// hands out a fresh address each time) and records where it forwards to.
func (m *merchantAPI) newReceiveAddress(c *gin.Context, merchantID int64, currency, dest, callback string, callbackReq bool) (string, error) {
	w, err := m.Ledger.NewReceiveAddress(c.Request.Context(), merchantID, currency,
		payments.Receive{Destination: dest, CallbackURL: callback, CallbackReq: callbackReq, FeePercent: m.ReceiveFee})
	if err != nil && w.Address == "" {
		if errors.Is(err, payments.ErrNoSeed) {
			return "", errNoSeedReceive
		}
		return "", err
	}
	// err with an address: made, the watch set is updated later
	return w.Address, nil
}
