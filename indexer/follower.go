package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Block is what the follower needs to know of a decoded block.
type Block interface {
	Height() int64
	Hash() string
	PrevHash() string
	Rows() int // index rows it makes, for batch sizing
	Time() time.Time
}

// Source is a chain's node.
type Source[B Block] interface {
	// Tip returns the node's best block.
	Tip(ctx context.Context) (height int64, hash string, err error)
	// HashAt returns the hash of the node's main-chain block at height.
	HashAt(ctx context.Context, height int64) (string, error)
	// Fetch returns the decoded block with this hash, which the node has at height.
	Fetch(ctx context.Context, height int64, hash string) (B, error)
}

// Sink is where blocks go: the chain index.
type Sink[B Block] interface {
	// Write stores consecutive blocks and makes them visible to readers.
	Write(ctx context.Context, blocks []B) error
	// Orphan hides blocks a reorg removed from the main chain.
	Orphan(ctx context.Context, blocks []Ref) error
	// CleanAbove removes what a crash left above the committed height.
	CleanAbove(ctx context.Context, height int64) error
	// Recent lists the canonical blocks at heights >= from, ascending.
	Recent(ctx context.Context, from int64) ([]Ref, error)
}

// Ref names a block.
type Ref struct {
	Height   int64
	Hash     string
	PrevHash string
	Time     time.Time
}

// Checkpoints persist the last committed block per chain (the ledger's Postgres).
type Checkpoints interface {
	Load(ctx context.Context, chain string) (Ref, bool, error)
	Save(ctx context.Context, chain string, r Ref) error
}

// Publisher delivers block events to the payments layer (a Redis Stream).
type Publisher interface {
	Publish(ctx context.Context, chain string, events []Event) error
}

// Event is a block joining or leaving the main chain.
type Event struct {
	Kind     string // "connected" or "disconnected"
	Height   int64
	Hash     string
	PrevHash string
	Credits  []Credit // payments to watched addresses (connected blocks only)
}

// Credit is value arriving at an address in a block: a deposit candidate.
type Credit struct {
	Address  string `json:"address"`
	Currency string `json:"currency"` // BTC, LTC, ETH, or the token symbol (USDT)
	TxID     string `json:"txid"`
	Position string `json:"position"` // vout:N, log:N, tx, trace:0.1
	Amount   string `json:"amount"`   // exact integer in base units
	From     string `json:"from"`     // the payer, when the block says it
	// What a double spend or replacement of the transaction would collide
	// with: the outpoints it spends ("txid:n", Bitcoin family), or its
	// sender and nonce (Ethereum). The payments workers fail a deposit whose
	// transaction a reorg removed once a conflicting one is buried deep enough.
	Spends []string `json:"spends,omitempty"`
	Sender string   `json:"sender,omitempty"`
	Nonce  *uint64  `json:"nonce,omitempty"`
}

// Matcher keeps the credits whose address is watched (the Redis watch set).
type Matcher interface {
	Match(ctx context.Context, addrs []string) ([]string, error)
}

// Options tune a follower.
type Options[B Block] struct {
	Chain     string
	Workers   int   // parallel block fetches during catch-up (default 8)
	BatchRows int   // rows per ClickHouse batch during catch-up (default 50,000)
	MaxReorg  int64 // deepest reorg handled (default 100); deeper stops the follower
	// UnboundedReorgs walks a reorg back as deep as it goes, through the
	// index's own records, instead of stopping at MaxReorg: for regtest and
	// dev chains, which start anew (btcd deletes its regtest database on
	// every start). Never on a public network.
	UnboundedReorgs bool
	PollInterval    time.Duration // watchdog poll of the node's tip (default 1 s)
	StartHeight     int64         // first height to index on an empty index (default 0)
	// Credits lists a block's possible deposits; with Watch, the watched ones
	// ride on the block's connected event.
	Credits func(B) []Credit
	Watch   Matcher
	// Payers, when set, fills Credit.From and Credit.Spends of a block's
	// watched credits (the Bitcoin family names the payer only through the
	// spent outputs).
	Payers func(ctx context.Context, b B, cs []Credit) error
	// Push names the push trigger (zmq, websocket) when one is configured: a
	// block the poll finds before the push trigger announced it counts as
	// missed by that trigger, so a feed gone silent shows in metrics and logs.
	Push string
	Log  *slog.Logger
}

// ErrNoBlock is what a Source returns when the node has no main-chain block
// at a height (its chain is shorter, as after invalidateblock).
var ErrNoBlock = errors.New("no block at that height")

// ErrReorgTooDeep stops the follower: the node's chain forked below what it
// may walk back, and indexing on would corrupt the index.
var ErrReorgTooDeep = errors.New("reorg deeper than the configured maximum")

// Follower keeps one chain's index equal to the node's main chain.
type Follower[B Block] struct {
	opts    Options[B]
	src     Source[B]
	sink    Sink[B]
	cps     Checkpoints
	pub     Publisher
	metrics *Metrics

	wake chan string
	// lastPush is when the push trigger last woke us (unix nanoseconds).
	lastPush atomic.Int64
	// window holds the recent canonical chain, for reorg walk-back.
	window []Ref
}

// NewFollower wires a follower. Triggers call Wake; the follower also polls.
func NewFollower[B Block](opts Options[B], src Source[B], sink Sink[B], cps Checkpoints, pub Publisher, m *Metrics) *Follower[B] {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 50_000
	}
	if opts.MaxReorg <= 0 {
		opts.MaxReorg = 100
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	opts.Log = opts.Log.With("chain", opts.Chain)
	m.Init(opts.Chain, opts.Push)
	return &Follower[B]{opts: opts, src: src, sink: sink, cps: cps, pub: pub, metrics: m, wake: make(chan string, 1)}
}

// Wake asks the follower to look at the node now; kind names the trigger.
func (f *Follower[B]) Wake(kind string) {
	f.metrics.triggers.WithLabelValues(f.opts.Chain, kind).Inc()
	if kind != "poll" {
		f.lastPush.Store(time.Now().UnixNano())
	}
	select {
	case f.wake <- kind:
	default: // a wake-up is already pending
	}
}

func (f *Follower[B]) tip() (Ref, bool) {
	if len(f.window) == 0 {
		return Ref{Height: f.opts.StartHeight - 1}, false
	}
	return f.window[len(f.window)-1], true
}

// Run follows the chain until ctx ends or an error that needs a person
// (ErrReorgTooDeep). Node errors are logged and retried with backoff.
func (f *Follower[B]) Run(ctx context.Context) error {
	if err := f.resume(ctx); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(f.opts.PollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f.Wake("poll")
			}
		}
	}()
	backoff := time.Second
	for {
		before, _ := f.tip()
		err := f.sync(ctx)
		f.checkPush(ctx, before)
		switch {
		case err == nil:
			backoff = time.Second
			f.metrics.up.WithLabelValues(f.opts.Chain).Set(1)
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrReorgTooDeep):
			f.metrics.up.WithLabelValues(f.opts.Chain).Set(0)
			f.opts.Log.Error("indexer stopped", "err", err)
			return err
		default:
			f.metrics.up.WithLabelValues(f.opts.Chain).Set(0)
			f.metrics.errors.WithLabelValues(f.opts.Chain).Inc()
			f.opts.Log.Warn("sync failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
		}
	}
}

// SyncOnce resumes from the checkpoint and brings the index to the source's
// tip once, for imports that end when the source does.
func (f *Follower[B]) SyncOnce(ctx context.Context) error {
	if err := f.resume(ctx); err != nil {
		return err
	}
	return f.sync(ctx)
}

// Checkpoint is the last committed block, as resume found it or sync left it.
func (f *Follower[B]) Checkpoint() (Ref, bool) { return f.tip() }

// checkPush notices new blocks that no push notification announced.
func (f *Follower[B]) checkPush(ctx context.Context, before Ref) {
	after, _ := f.tip()
	if f.opts.Push == "" || after.Height <= before.Height || ctx.Err() != nil {
		return
	}
	last := time.Unix(0, f.lastPush.Load())
	if time.Since(last) <= 2*f.opts.PollInterval+time.Second {
		return
	}
	f.metrics.missed.WithLabelValues(f.opts.Chain, f.opts.Push).Inc()
	f.opts.Log.Warn(f.opts.Push+" trigger is silent: the poll found new blocks it did not announce",
		"height", after.Height, "last_notification", last.Format(time.RFC3339))
}

// resume loads the checkpoint, removes what a crash left above it, and
// rebuilds the window of recent blocks.
func (f *Follower[B]) resume(ctx context.Context) error {
	f.window = nil // another process may have moved the index since this one last ran
	cp, ok, err := f.cps.Load(ctx, f.opts.Chain)
	if err != nil {
		return fmt.Errorf("load checkpoint: %w", err)
	}
	h := f.opts.StartHeight - 1
	if ok {
		h = cp.Height
	}
	if err := f.sink.CleanAbove(ctx, h); err != nil {
		return fmt.Errorf("clean rows above checkpoint %d: %w", h, err)
	}
	if !ok {
		f.opts.Log.Info("starting on an empty index", "from_height", f.opts.StartHeight)
		return nil
	}
	recent, err := f.sink.Recent(ctx, max(0, h-f.opts.MaxReorg))
	if err != nil {
		return fmt.Errorf("read recent blocks: %w", err)
	}
	if len(recent) == 0 || recent[len(recent)-1].Hash != cp.Hash {
		return fmt.Errorf("checkpoint %d %s is not the tip of the index; the index and the ledger disagree "+
			"(restore both from the same backup, or drop the chain's rows and its checkpoint to re-index)", cp.Height, cp.Hash)
	}
	f.window = recent
	f.metrics.height.WithLabelValues(f.opts.Chain).Set(float64(cp.Height))
	f.opts.Log.Info("resuming", "height", cp.Height, "hash", cp.Hash)
	return nil
}

// sync brings the index to the node's tip: walk back a reorg if our tip
// left the main chain, then catch up.
func (f *Follower[B]) sync(ctx context.Context) error {
	for {
		nodeH, nodeHash, err := f.src.Tip(ctx)
		if err != nil {
			return fmt.Errorf("node tip: %w", err)
		}
		f.metrics.nodeHeight.WithLabelValues(f.opts.Chain).Set(float64(nodeH))
		ours, have := f.tip()
		if have && ours.Hash == nodeHash {
			return nil
		}
		if have {
			onChain := false
			if ours.Height <= nodeH {
				h, err := f.src.HashAt(ctx, ours.Height)
				if err != nil {
					return fmt.Errorf("node hash at %d: %w", ours.Height, err)
				}
				onChain = h == ours.Hash
			}
			if !onChain {
				if err := f.reorg(ctx); err != nil {
					return err
				}
				continue
			}
		}
		if nodeH <= ours.Height {
			return nil
		}
		err = f.catchUp(ctx, ours.Height+1, nodeH)
		if errors.Is(err, errForked) {
			continue // the node reorganised under us: walk back on the next round
		}
		return err
	}
}

var errForked = errors.New("block does not extend the index tip")

// reorg walks back to the last block the node still has on its main chain,
// hides the orphaned blocks, and announces them.
func (f *Follower[B]) reorg(ctx context.Context) error {
	ours, _ := f.tip()
	var orphaned []Ref
	for {
		if len(f.window) == 0 {
			if !f.opts.UnboundedReorgs || len(orphaned) == 0 {
				break
			}
			// past the window: read older blocks from the index itself
			lowest := orphaned[len(orphaned)-1].Height
			older, err := f.sink.Recent(ctx, max(f.opts.StartHeight, lowest-f.opts.MaxReorg-1))
			if err != nil {
				return fmt.Errorf("read older blocks: %w", err)
			}
			for _, o := range older {
				if o.Height < lowest {
					f.window = append(f.window, o)
				}
			}
			if len(f.window) == 0 {
				break
			}
		}
		r := f.window[len(f.window)-1]
		h, err := f.src.HashAt(ctx, r.Height)
		if err != nil && !errors.Is(err, ErrNoBlock) {
			return fmt.Errorf("node hash at %d: %w", r.Height, err)
		}
		if err == nil && h == r.Hash {
			break
		}
		orphaned = append(orphaned, r)
		f.window = f.window[:len(f.window)-1]
		if int64(len(orphaned)) > f.opts.MaxReorg && !f.opts.UnboundedReorgs {
			f.metrics.reorgTooDeep.WithLabelValues(f.opts.Chain).Set(1)
			return fmt.Errorf("%w: the node's chain differs from the index for more than %d blocks below height %d; "+
				"check that the node is on the right network, then raise indexer max_reorg or re-index", ErrReorgTooDeep, f.opts.MaxReorg, ours.Height)
		}
	}
	if len(f.window) == 0 && len(orphaned) > 0 && orphaned[len(orphaned)-1].Height > f.opts.StartHeight && !f.opts.UnboundedReorgs {
		f.metrics.reorgTooDeep.WithLabelValues(f.opts.Chain).Set(1)
		return fmt.Errorf("%w: no common block with the node within the last %d blocks", ErrReorgTooDeep, f.opts.MaxReorg)
	}
	fork, _ := f.tip()
	f.opts.Log.Warn("reorg", "depth", len(orphaned), "fork_height", fork.Height, "fork_hash", fork.Hash, "old_tip", ours.Hash)
	if err := f.sink.Orphan(ctx, orphaned); err != nil {
		return fmt.Errorf("mark orphaned blocks: %w", err)
	}
	evs := make([]Event, len(orphaned))
	for i, r := range orphaned {
		evs[i] = Event{Kind: "disconnected", Height: r.Height, Hash: r.Hash, PrevHash: r.PrevHash}
	}
	if err := f.pub.Publish(ctx, f.opts.Chain, evs); err != nil {
		return fmt.Errorf("publish disconnected events: %w", err)
	}
	// The checkpoint moves last: a crash before it replays the walk-back, and
	// marking and announcing again is harmless.
	if err := f.cps.Save(ctx, f.opts.Chain, fork); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	f.metrics.reorgs.WithLabelValues(f.opts.Chain).Observe(float64(len(orphaned)))
	f.metrics.height.WithLabelValues(f.opts.Chain).Set(float64(fork.Height))
	return nil
}

// catchUp indexes heights from..to: fetches run in parallel, blocks are
// checked and written in order, in batches, with bounded memory.
func (f *Follower[B]) catchUp(ctx context.Context, from, to int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type future struct {
		height int64
		done   chan struct{}
		block  B
		err    error
	}
	inflight := 2 * f.opts.Workers
	ordered := make(chan *future, inflight)
	jobs := make(chan *future)
	var wg sync.WaitGroup
	for i := 0; i < f.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fu := range jobs {
				hash, err := f.src.HashAt(ctx, fu.height)
				if err == nil {
					fu.block, err = f.src.Fetch(ctx, fu.height, hash)
				}
				fu.err = err
				close(fu.done)
			}
		}()
	}
	go func() {
		defer close(ordered)
		defer close(jobs)
		for h := from; h <= to; h++ {
			fu := &future{height: h, done: make(chan struct{})}
			select {
			case ordered <- fu: // bounds what is fetched ahead of the writer
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- fu:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()
	defer cancel()

	var batch []B
	rows := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := f.commit(ctx, batch); err != nil {
			return err
		}
		batch, rows = batch[:0], 0
		return nil
	}
	prev, _ := f.tip()
	for fu := range ordered {
		f.metrics.queue.WithLabelValues(f.opts.Chain).Set(float64(len(ordered)))
		if len(batch) > 0 {
			// Write what we hold if the next block is slow to come, so a slow
			// node never keeps finished blocks from the index for long.
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-fu.done:
			case <-t.C:
				if err := flush(); err != nil {
					return err
				}
			case <-ctx.Done():
			}
			t.Stop()
		}
		select {
		case <-fu.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if fu.err != nil {
			if err := flush(); err != nil {
				return err
			}
			return fmt.Errorf("block %d: %w", fu.height, fu.err)
		}
		b := fu.block
		if prev.Hash != "" && b.PrevHash() != prev.Hash {
			if err := flush(); err != nil {
				return err
			}
			return errForked
		}
		batch = append(batch, b)
		rows += b.Rows()
		prev = Ref{Height: b.Height(), Hash: b.Hash(), PrevHash: b.PrevHash(), Time: b.Time()}
		if rows >= f.opts.BatchRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// matchCredits checks every possible credit of the batch against the watch
// set in one call and puts the watched ones on their blocks' events.
func (f *Follower[B]) matchCredits(ctx context.Context, batch []B, evs []Event) error {
	if f.opts.Credits == nil || f.opts.Watch == nil {
		return nil
	}
	all := make([][]Credit, len(batch))
	var addrs []string
	for i, b := range batch {
		all[i] = f.opts.Credits(b)
		for _, c := range all[i] {
			addrs = append(addrs, c.Address)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	watched, err := f.opts.Watch.Match(ctx, addrs)
	if err != nil {
		return fmt.Errorf("match against the watch set: %w", err)
	}
	if len(watched) == 0 {
		return nil
	}
	is := make(map[string]bool, len(watched))
	for _, a := range watched {
		is[a] = true
	}
	for i, cs := range all {
		for _, c := range cs {
			if is[c.Address] {
				evs[i].Credits = append(evs[i].Credits, c)
			}
		}
		if len(evs[i].Credits) > 0 && f.opts.Payers != nil {
			if err := f.opts.Payers(ctx, batch[i], evs[i].Credits); err != nil {
				return fmt.Errorf("find the payers of block %d: %w", batch[i].Height(), err)
			}
		}
	}
	return nil
}

// commit writes a batch, announces it, and moves the checkpoint, in that
// order: a crash anywhere replays the batch (rows are cleaned above the
// checkpoint at start; events may repeat, never go missing).
func (f *Follower[B]) commit(ctx context.Context, batch []B) error {
	if err := f.sink.Write(ctx, batch); err != nil {
		return fmt.Errorf("write blocks %d-%d: %w", batch[0].Height(), batch[len(batch)-1].Height(), err)
	}
	evs := make([]Event, len(batch))
	for i, b := range batch {
		evs[i] = Event{Kind: "connected", Height: b.Height(), Hash: b.Hash(), PrevHash: b.PrevHash()}
	}
	if err := f.matchCredits(ctx, batch, evs); err != nil {
		return err
	}
	if err := f.pub.Publish(ctx, f.opts.Chain, evs); err != nil {
		return fmt.Errorf("publish connected events: %w", err)
	}
	last := batch[len(batch)-1]
	ref := Ref{Height: last.Height(), Hash: last.Hash(), PrevHash: last.PrevHash(), Time: last.Time()}
	if err := f.cps.Save(ctx, f.opts.Chain, ref); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	for _, b := range batch {
		f.window = append(f.window, Ref{Height: b.Height(), Hash: b.Hash(), PrevHash: b.PrevHash(), Time: b.Time()})
	}
	if over := int64(len(f.window)) - f.opts.MaxReorg - 1; over > 0 {
		f.window = append(f.window[:0], f.window[over:]...)
	}
	f.metrics.height.WithLabelValues(f.opts.Chain).Set(float64(ref.Height))
	f.metrics.tipTime.WithLabelValues(f.opts.Chain).Set(float64(ref.Time.Unix()))
	level := slog.LevelInfo
	if len(batch) == 1 {
		level = slog.LevelDebug // one live block at a time would flood the log
	}
	f.opts.Log.Log(ctx, level, "indexed", "from", batch[0].Height(), "to", ref.Height, "blocks", len(batch))
	return nil
}
