package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/sluicepay/sluice/explorer"
)

// Explorer serves the explorer API (/v1/:chain/...) over the chain index.
type Explorer struct {
	Reader *explorer.Reader
	Chains []string // the configured chains: btc, ltc, eth
	Log    *slog.Logger
}

type explorerAPI struct{ Explorer }

func (e *explorerAPI) routes(r gin.IRouter) {
	g := r.Group("/v1/:chain", e.chain)
	g.GET("/block/:ref", e.block)
	g.GET("/tx/:txid", e.tx)
	g.GET("/address/:address/txs", e.addressTxs)
	g.GET("/address/:address/balance", e.balance)
	g.GET("/address/:address/transfers", e.addressTransfers)
	g.GET("/token/:contract/transfers", e.tokenTransfers)
}

// chain refuses chains that are not configured.
func (e *explorerAPI) chain(c *gin.Context) {
	if ch := c.Param("chain"); !slices.Contains(e.Chains, ch) {
		fail(c, http.StatusNotFound, "chain %q is not indexed here (one of %v)", ch, e.Chains)
	}
}

// answer writes data, or the error with its status: 400 bad input, 404
// not found, 503 when the index cannot be read.
func (e *explorerAPI) answer(c *gin.Context, data any, next *string, err error) {
	switch {
	case errors.Is(err, explorer.ErrBadInput):
		fail(c, http.StatusBadRequest, "%s", err)
	case errors.Is(err, explorer.ErrNotFound):
		fail(c, http.StatusNotFound, "%s", err)
	case err != nil:
		e.Log.Warn("explorer: reading the chain index failed", "path", c.Request.URL.Path, "err", err)
		fail(c, http.StatusServiceUnavailable, "the chain index cannot be read now; try again")
	case next != nil:
		c.JSON(http.StatusOK, gin.H{"status": http.StatusOK, "data": data, "next_cursor": *next})
	default:
		ok(c, data)
	}
}

func (e *explorerAPI) block(c *gin.Context) {
	chain := c.Param("chain")
	height, hash, err := explorer.HeightOrHash(chain, c.Param("ref"))
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	if explorer.IsEthereum(chain) {
		b, err := e.Reader.EthereumBlock(c.Request.Context(), chain, height, hash)
		e.answer(c, b, nil, err)
		return
	}
	b, err := e.Reader.BitcoinBlock(c.Request.Context(), chain, height, hash)
	e.answer(c, b, nil, err)
}

func (e *explorerAPI) tx(c *gin.Context) {
	chain := c.Param("chain")
	id, err := explorer.TxID(chain, c.Param("txid"))
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	if explorer.IsEthereum(chain) {
		tx, err := e.Reader.EthereumTx(c.Request.Context(), chain, id)
		e.answer(c, tx, nil, err)
		return
	}
	tx, err := e.Reader.BitcoinTx(c.Request.Context(), chain, id)
	e.answer(c, tx, nil, err)
}

// page reads the address and the paging parameters.
func (e *explorerAPI) page(c *gin.Context) (chain, address string, limit int, err error) {
	chain = c.Param("chain")
	if address, err = explorer.Address(chain, c.Param("address")); err != nil {
		return "", "", 0, err
	}
	limit, err = explorer.Limit(c.Query("limit"))
	return chain, address, limit, err
}

func (e *explorerAPI) addressTxs(c *gin.Context) {
	chain, address, limit, err := e.page(c)
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	if explorer.IsEthereum(chain) {
		out, next, err := e.Reader.EthereumAddressTransfers(c.Request.Context(), chain, address, c.Query("cursor"), limit, false)
		e.answer(c, out, &next, err)
		return
	}
	out, next, err := e.Reader.BitcoinAddressTxs(c.Request.Context(), chain, address, c.Query("cursor"), limit)
	e.answer(c, out, &next, err)
}

func (e *explorerAPI) balance(c *gin.Context) {
	chain := c.Param("chain")
	address, err := explorer.Address(chain, c.Param("address"))
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	if explorer.IsEthereum(chain) {
		b, err := e.Reader.EthereumBalance(c.Request.Context(), chain, address)
		e.answer(c, b, nil, err)
		return
	}
	b, err := e.Reader.BitcoinBalance(c.Request.Context(), chain, address)
	e.answer(c, b, nil, err)
}

func (e *explorerAPI) addressTransfers(c *gin.Context) {
	chain, address, limit, err := e.page(c)
	if err == nil && !explorer.IsEthereum(chain) {
		err = errNoTokens(chain)
	}
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	out, next, err := e.Reader.EthereumAddressTransfers(c.Request.Context(), chain, address, c.Query("cursor"), limit, true)
	e.answer(c, out, &next, err)
}

func (e *explorerAPI) tokenTransfers(c *gin.Context) {
	chain := c.Param("chain")
	if !explorer.IsEthereum(chain) {
		e.answer(c, nil, nil, errNoTokens(chain))
		return
	}
	token, err := explorer.Address(chain, c.Param("contract"))
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	limit, err := explorer.Limit(c.Query("limit"))
	if err != nil {
		e.answer(c, nil, nil, err)
		return
	}
	out, next, err := e.Reader.TokenTransfers(c.Request.Context(), chain, token, c.Query("cursor"), limit)
	e.answer(c, out, &next, err)
}

func errNoTokens(chain string) error {
	return fmt.Errorf("%w: %s has no token transfers", explorer.ErrNotFound, chain)
}
