package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/merchant"
)

// WebhookLatency measures, on a running sluice (API, indexer, payments
// workers, webhook delivery) over the local stack's litecoind, the time from
// a block being mined to the status-0 webhook of each deposit in it reaching
// a receiver, next to the time until the block was indexed (the ledger's
// checkpoint), the first stage of the same path.
type WebhookLatency struct {
	API      string // the sluice API
	DB       *pgxpool.Pool
	Nodes    devnet.Nodes
	Deposits int // total (default 200)
	PerBlock int // deposits per block (default 20)
	Out      io.Writer
}

// LatencyResult is what WebhookLatency measured.
type LatencyResult struct {
	Deposits, Blocks    int
	Webhook, Indexed    Quantiles // from the block mined
	PollInterval        string
	WebhooksPerDelivery float64
}

// Quantiles of a set of durations.
type Quantiles struct{ P50, P90, P99, Max time.Duration }

func quantiles(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Quantiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

// Run performs the measurement; it creates a merchant of its own whose
// status-0 webhooks go to a receiver on loopback.
func (b WebhookLatency) Run(ctx context.Context) (LatencyResult, error) {
	if b.Deposits <= 0 {
		b.Deposits = 200
	}
	if b.PerBlock <= 0 {
		b.PerBlock = 20
	}
	logf := func(format string, args ...any) {
		if b.Out != nil {
			fmt.Fprintf(b.Out, format+"\n", args...)
		}
	}
	var mu sync.Mutex
	arrived := map[string]time.Time{} // address → status-0 webhook received
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return LatencyResult{}, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var body struct {
			Address string `json:"address"`
			Status  int    `json:"status"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		if _, seen := arrived[body.Address]; !seen && body.Status == 0 {
			arrived[body.Address] = at
		}
		mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	created, err := merchant.Create(ctx, b.DB, merchant.Spec{Name: "bench-webhooks-" + stamp,
		Webhooks: map[string]merchant.Endpoint{"created": {Method: "POST", URL: "http://" + ln.Addr().String() + "/hook"}},
		Key:      merchant.KeySpec{RateLimit: 1_000_000}}, nil)
	if err != nil {
		return LatencyResult{}, err
	}
	logf("merchant %d; creating %d LTC wallets through %s", created.ID, b.Deposits, b.API)
	addrs := make([]string, b.Deposits)
	for i := range addrs {
		if addrs[i], err = createWallet(ctx, b.API, created.APIKey, "LTC", "bench-"+stamp+"-"+strconv.Itoa(i)); err != nil {
			return LatencyResult{}, err
		}
	}
	var res LatencyResult
	var webhook, indexed []time.Duration
	for start := 0; start < len(addrs); start += b.PerBlock {
		chunk := addrs[start:min(start+b.PerBlock, len(addrs))]
		if _, err := b.Nodes.PayManyLTC(ctx, chunk, "0.001"); err != nil {
			return res, err
		}
		m, err := b.Nodes.Mine(ctx, "ltc", 1)
		if err != nil {
			return res, err
		}
		mined := time.Now()
		res.Blocks++
		// the first stage: the block in the ledger's checkpoint
		for {
			var h int64
			if err := b.DB.QueryRow(ctx, "SELECT coalesce(max(height), 0) FROM chain_checkpoints WHERE chain = 'ltc'").Scan(&h); err != nil {
				return res, err
			}
			if h >= m.Height {
				indexed = append(indexed, time.Since(mined))
				break
			}
			if time.Since(mined) > time.Minute {
				return res, fmt.Errorf("block %d not indexed within a minute: is sluice serve running on this stack?", m.Height)
			}
			time.Sleep(2 * time.Millisecond)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			n := 0
			for _, a := range chunk {
				if _, ok := arrived[a]; ok {
					n++
				}
			}
			mu.Unlock()
			if n == len(chunk) {
				break
			}
			if time.Now().After(deadline) {
				return res, fmt.Errorf("only %d of %d status-0 webhooks of block %d arrived within 2 minutes", n, len(chunk), m.Height)
			}
			time.Sleep(2 * time.Millisecond)
		}
		mu.Lock()
		for _, a := range chunk {
			webhook = append(webhook, arrived[a].Sub(mined))
		}
		mu.Unlock()
		logf("block %d: %d deposits, webhooks within %s", m.Height, len(chunk), slices.Max(webhook[len(webhook)-len(chunk):]).Round(time.Millisecond))
	}
	res.Deposits = len(webhook)
	res.Webhook, res.Indexed = quantiles(webhook), quantiles(indexed)
	return res, nil
}

// createWallet asks the API for a deposit address, waiting while the
// chain's index catches up (503).
func createWallet(ctx context.Context, api, key, currency, extID string) (string, error) {
	body, _ := json.Marshal(map[string]string{"extId": extID})
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, "POST", api+"/wallet/create/"+currency, bytes.NewReader(body))
		req.Header.Set("Authorization", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", fmt.Errorf("sluice API at %s: %w", api, err)
		}
		var out struct {
			Data struct {
				PublicKey string `json:"publicKey"`
			} `json:"data"`
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return out.Data.PublicKey, nil
		case resp.StatusCode == http.StatusServiceUnavailable && attempt < 120:
			time.Sleep(time.Second)
		default:
			return "", errors.New("create wallet: " + strconv.Itoa(resp.StatusCode) + " " + out.Message)
		}
	}
}
