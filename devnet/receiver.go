package devnet

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Received is one request a Receiver got.
type Received struct {
	At      time.Time         `json:"at"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query,omitempty"`
	Headers map[string]string `json:"headers,omitempty"` // the X-Sluice-* ones
	Body    string            `json:"body,omitempty"`
}

// Receiver is the demo webhook receiver of the local stack: it writes each
// request as a JSON line and answers 200 with "*ok*", which acknowledges
// both webhook flavours (iqpay wants the 200, litepay the body).
type Receiver struct {
	Out io.Writer
	mu  sync.Mutex
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	rec := Received{At: time.Now().UTC(), Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Body: string(body),
		Headers: map[string]string{}}
	for k, v := range req.Header {
		if len(k) > 9 && http.CanonicalHeaderKey(k)[:9] == "X-Sluice-" {
			rec.Headers[k] = v[0]
		}
	}
	line, _ := json.Marshal(rec)
	r.mu.Lock()
	_, _ = r.Out.Write(append(line, '\n'))
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "*ok*")
}
