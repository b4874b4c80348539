package bitcoin

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/indexer"
)

// BtcdWebsocket wakes the follower on btcd's blockconnected and
// blockdisconnected notifications (the notifyblocks websocket API).
type BtcdWebsocket struct {
	RPC string // the node's RPC URL with credentials; the websocket is at /ws
	Log *slog.Logger
}

// Run keeps a websocket open, reconnecting with backoff, until ctx ends.
func (t BtcdWebsocket) Run(ctx context.Context, wake func(kind string)) error {
	u, err := url.Parse(t.RPC)
	if err != nil {
		return fmt.Errorf("btcd websocket: invalid RPC URL")
	}
	header := http.Header{}
	if u.User != nil {
		p, _ := u.User.Password()
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+p)))
	}
	u.User = nil
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path = "/ws"
	return indexer.Reconnect(ctx, t.Log, "btcd websocket", u.String(), func() error {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		conn, _, err := d.DialContext(ctx, u.String(), header)
		if err != nil {
			return err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		if err := conn.WriteJSON(map[string]any{"jsonrpc": "1.0", "id": 1, "method": "notifyblocks", "params": []any{}}); err != nil {
			return err
		}
		t.Log.Info("btcd websocket connected", "url", u.String())
		wake("websocket") // we may have missed blocks while disconnected
		for {
			var msg struct {
				Method string          `json:"method"`
				Error  json.RawMessage `json:"error"`
			}
			if err := conn.ReadJSON(&msg); err != nil {
				return err
			}
			switch msg.Method {
			case "blockconnected", "blockdisconnected", "filteredblockconnected", "filteredblockdisconnected":
				wake("websocket")
			}
		}
	})
}

// ZMQ wakes the follower on bitcoind/litecoind "hashblock" messages and
// counts sequence gaps (messages ZMQ dropped).
type ZMQ struct {
	Endpoint string // e.g. tcp://127.0.0.1:28332 (-zmqpubhashblock)
	Chain    string
	Gaps     *prometheus.CounterVec // by chain; may be nil
	Log      *slog.Logger
}

// Run subscribes until ctx ends, reconnecting with backoff.
func (t ZMQ) Run(ctx context.Context, wake func(kind string)) error {
	return indexer.Reconnect(ctx, t.Log, "zmq", t.Endpoint, func() error {
		sub := zmq4.NewSub(ctx, zmq4.WithDialerRetry(time.Second))
		defer sub.Close()
		if err := sub.Dial(t.Endpoint); err != nil {
			return err
		}
		if err := sub.SetOption(zmq4.OptionSubscribe, "hashblock"); err != nil {
			return err
		}
		t.Log.Info("zmq subscribed", "endpoint", t.Endpoint, "topic", "hashblock")
		wake("zmq")
		var last uint32
		seen := false
		for {
			msg, err := sub.Recv()
			if err != nil {
				return err
			}
			seq, ok := HashblockSeq(msg.Frames)
			if !ok {
				t.Log.Warn("zmq: malformed hashblock message ignored", "frames", len(msg.Frames))
				continue
			}
			if seen && seq != last+1 {
				t.Log.Warn("zmq: sequence gap, notifications were lost", "expected", last+1, "got", seq)
				if t.Gaps != nil {
					t.Gaps.WithLabelValues(t.Chain).Inc()
				}
			}
			last, seen = seq, true
			wake("zmq")
		}
	})
}

// HashblockSeq checks a hashblock message (topic, 32-byte hash, 4-byte
// little-endian sequence) and returns its sequence number.
func HashblockSeq(frames [][]byte) (uint32, bool) {
	if len(frames) != 3 || string(frames[0]) != "hashblock" || len(frames[1]) != 32 || len(frames[2]) != 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(frames[2]), true
}
