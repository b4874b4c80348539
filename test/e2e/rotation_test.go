package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/payments/webhook"
	"github.com/sluicepay/sluice/stores"
)

// signedReceiver records every webhook request it gets, to be verified
// afterwards with whichever secret a test holds.
type signedReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newSignedReceiver(t *testing.T) *signedReceiver {
	s := &signedReceiver{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.body = append(s.body, b)
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *signedReceiver) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// verifies tells whether request i verifies with secret alone, as a
// merchant's receiver holding only that secret checks it.
func (s *signedReceiver) verifies(t *testing.T, i int, secret string) bool {
	t.Helper()
	s.mu.Lock()
	r, b := s.reqs[i].Clone(context.Background()), s.body[i]
	s.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	_, err := webhook.VerifyRequest(secret, webhook.Expect{Flavours: []string{webhook.FlavourIqpay, webhook.FlavourWithdrawal},
		URL: s.srv.URL + "/iqpay", Tolerance: time.Minute}, r)
	return err == nil
}

func (s *signedReceiver) header(i int) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[i].Header.Clone()
}

// TestSecretRotationEndToEnd: a merchant's webhook secret, encrypted at
// rest, is rotated with an overlap: during it a receiver holding either
// secret alone accepts the deliveries, after it only the new one does. A
// dump of the ledger made as docs/operations.md says is private to its
// owner and holds no secret in the clear, nor does the database restored
// from it, which works again with the key file put back.
func TestSecretRotationEndToEnd(t *testing.T) {
	ie := newIndexEnv(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "secrets.key")
	if r := run(t, nil, "secrets", "keygen", keyFile); r.code != 0 {
		t.Fatalf("secrets keygen: %s%s", r.stdout, r.stderr)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if r := run(t, nil, "secrets", "keygen", keyFile); r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Fatalf("keygen over a key: %d %s%s", r.code, r.stdout, r.stderr)
	}
	env := append(ie.env, "SLUICE_SECRETS_KEY_FILE="+keyFile, "SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=loopback", "SLUICE_RATES_SOURCES=none")

	rcv := newSignedReceiver(t)
	r := run(t, env, "merchant", "create", "--name", "shop", "--webhook-url", rcv.srv.URL+"/iqpay")
	if r.code != 0 {
		t.Fatalf("merchant create: %s%s", r.stdout, r.stderr)
	}
	var created struct {
		ID     int64  `json:"id"`
		Secret string `json:"webhook_secret"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Secret == "" {
		t.Fatalf("merchant create printed %q", r.stdout)
	}
	oldSecret := created.Secret
	id := strconv.FormatInt(created.ID, 10)

	pg, err := stores.OpenPostgres(context.Background(), ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	var stored string
	if err := pg.QueryRow(context.Background(), "SELECT webhook_secret FROM merchants WHERE id = $1", created.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, oldSecret) {
		t.Fatalf("the secret is stored as %q, want it encrypted", stored)
	}

	wh := ie.startSub(t, env, "webhooks")
	dep := depositFor(t, pg, created.ID)
	event(t, pg, dep, "created", 1)
	waitFor(t, "the first delivery", 30*time.Second, func() bool { return rcv.count() == 1 })
	if !rcv.verifies(t, 0, oldSecret) {
		t.Fatalf("the first delivery does not verify with the merchant's secret: %v", rcv.header(0))
	}

	// rotate with an overlap: deliveries carry both signatures
	r = run(t, env, "merchant", "rotate-secret", id, "--overlap", "8s")
	if r.code != 0 {
		t.Fatalf("rotate-secret: %s%s", r.stdout, r.stderr)
	}
	var rotated struct {
		Secret string     `json:"webhook_secret"`
		Until  *time.Time `json:"previous_valid_until"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rotated); err != nil || rotated.Secret == "" || rotated.Secret == oldSecret || rotated.Until == nil {
		t.Fatalf("rotate-secret printed %q", r.stdout)
	}
	newSecret := rotated.Secret
	event(t, pg, dep, "confirmations", 2)
	waitFor(t, "the delivery during the overlap", 30*time.Second, func() bool { return rcv.count() == 2 })
	ts, _ := strconv.ParseInt(rcv.header(1).Get(webhook.HeaderTimestamp), 10, 64)
	if !time.Unix(ts, 0).Before(*rotated.Until) {
		t.Fatalf("the delivery came after the overlap (%s, until %s): the machine is too slow for this test", time.Unix(ts, 0), rotated.Until)
	}
	if !rcv.verifies(t, 1, oldSecret) || !rcv.verifies(t, 1, newSecret) {
		t.Fatalf("during the overlap a receiver with either secret alone must verify: %s", rcv.header(1).Get(webhook.HeaderSignature))
	}
	if rcv.verifies(t, 1, "not-the-secret") {
		t.Fatal("another secret verified")
	}

	// after the overlap only the new secret signs
	time.Sleep(time.Until(*rotated.Until) + time.Second)
	event(t, pg, dep, "confirmations", 3)
	waitFor(t, "the delivery after the overlap", 30*time.Second, func() bool { return rcv.count() == 3 })
	if !rcv.verifies(t, 2, newSecret) || rcv.verifies(t, 2, oldSecret) {
		t.Fatalf("after the overlap only the new secret may verify: %s", rcv.header(2).Get(webhook.HeaderSignature))
	}
	_ = wh

	// an API key is rotated the same way; --overlap 0 revokes the old one now
	var prefix string
	if err := pg.QueryRow(context.Background(), "SELECT prefix FROM api_keys WHERE merchant_id = $1", created.ID).Scan(&prefix); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "merchant", "key", "rotate", "--merchant", id, prefix, "--overlap", "0")
	var rk struct {
		Key       string `json:"api_key"`
		OldPrefix string `json:"old_prefix"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rk) != nil || !strings.HasPrefix(rk.Key, "sluice_") || rk.OldPrefix != prefix {
		t.Fatalf("key rotate: %d %s%s", r.code, r.stdout, r.stderr)
	}
	var revoked bool
	if err := pg.QueryRow(context.Background(), "SELECT revoked_at IS NOT NULL FROM api_keys WHERE prefix = $1", prefix).Scan(&revoked); err != nil || !revoked {
		t.Fatalf("the old key is not revoked: %v", err)
	}

	// the dump, made as docs/operations.md says
	dump := filepath.Join(dir, "sluice.dump")
	sh := exec.Command("sh", "-c", `umask 077 && pg_dump --format=custom --file="$DUMP" "$SLUICE_POSTGRES_DSN"`)
	sh.Env = append(os.Environ(), "DUMP="+dump, "SLUICE_POSTGRES_DSN="+ie.pg)
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	st, err := os.Stat(dump)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the dump's mode is %v (%v), want 0600", st.Mode(), err)
	}
	// a plain SQL dump too: the custom one is compressed, this one shows
	// every value as it is stored
	plain, err := exec.Command("pg_dump", "--format=plain", ie.pg).Output()
	if err != nil {
		t.Fatalf("pg_dump --format=plain: %v", err)
	}
	if !bytes.Contains(plain, []byte(rcv.srv.URL+"/iqpay")) {
		t.Fatal("the plain dump lacks the merchant's webhook URL: it is not a dump of this ledger")
	}
	custom, _ := os.ReadFile(dump)
	for name, s := range map[string]string{"old": oldSecret, "new": newSecret} {
		if bytes.Contains(plain, []byte(s)) || bytes.Contains(custom, []byte(s)) {
			t.Errorf("the %s webhook secret is in the dump in the clear", name)
		}
	}

	// restored elsewhere: still no secret in the clear, and with the key
	// file put back every secret opens
	restored := testenv.FreshPostgres(t)
	if out, err := exec.Command("pg_restore", "--no-owner", "--dbname="+restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	rpg, err := pgxpool.New(context.Background(), restored)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rpg.Close)
	var cur, prev string
	if err := rpg.QueryRow(context.Background(), "SELECT webhook_secret, previous_webhook_secret FROM merchants WHERE id = $1",
		created.ID).Scan(&cur, &prev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cur, "v1:") || strings.Contains(cur+prev, newSecret) || strings.Contains(cur+prev, oldSecret) {
		t.Fatalf("restored secrets %q %q", cur, prev)
	}
	restoredEnv := append(append([]string{}, env...), "SLUICE_POSTGRES_DSN="+restored)
	if r := run(t, restoredEnv, "secrets", "check"); r.code != 0 || !strings.Contains(r.stdout, "every webhook secret is encrypted and decrypts") {
		t.Fatalf("secrets check on the restored ledger: %d %s%s", r.code, r.stdout, r.stderr)
	}

	// a wrong key is refused at start, naming the merchant and never the secret
	otherKey := filepath.Join(dir, "other.key")
	if r := run(t, nil, "secrets", "keygen", otherKey); r.code != 0 {
		t.Fatal(r.stderr)
	}
	wrongEnv := append(append([]string{}, restoredEnv...), "SLUICE_SECRETS_KEY_FILE="+otherKey)
	for _, args := range [][]string{{"secrets", "check"}, {"webhooks"}} {
		r := run(t, wrongEnv, args...)
		out := r.stdout + r.stderr
		if r.code == 0 || !strings.Contains(out, "merchant "+id) || !strings.Contains(out, "does not decrypt") ||
			strings.Contains(out, newSecret) || strings.Contains(out, oldSecret) {
			t.Fatalf("%v with a wrong key: %d %s", args, r.code, out)
		}
		noCrash(t, r)
	}
	// a key file others may read is refused, saying how to fix it
	if err := os.Chmod(otherKey, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"merchant", "rotate-secret", id}, {"webhooks"}} {
		r := run(t, wrongEnv, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "secrets.key_file") || !strings.Contains(r.stderr, "chmod 600") {
			t.Fatalf("%v with a 0644 key file: %d %s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	// without a key: works in the clear, with a warning
	clearEnv := append(append([]string{}, ie.env...), "SLUICE_SECRETS_KEY_FILE=")
	if r := run(t, clearEnv, "secrets", "check"); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "no secrets.key_file") {
		t.Fatalf("secrets check of encrypted secrets without a key: %d %s%s", r.code, r.stdout, r.stderr)
	}
}

// depositFor writes a BTC wallet and deposit of merchant, the rows the
// payments workers would write, so its events go out as webhooks.
func depositFor(t *testing.T, pg *pgxpool.Pool, merchant int64) int64 {
	t.Helper()
	ctx := context.Background()
	var wallet, dep int64
	if err := pg.QueryRow(ctx, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
		VALUES ($1, 'BTC', 'cust-1', 'btc', 'bcrt1qrotation', 0) RETURNING id`, merchant).Scan(&wallet); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow(ctx, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_hash, block_height, confirmations)
		VALUES ($1, 'btc', 'BTC', $2, 'vout:0', 150000, 'payer', 'blockhash', 100, 1) RETURNING id`,
		wallet, strings.Repeat("ab", 32)).Scan(&dep); err != nil {
		t.Fatal(err)
	}
	return dep
}

// event adds a deposit event, which the webhooks process sends.
func event(t *testing.T, pg *pgxpool.Pool, deposit int64, kind string, confs int) {
	t.Helper()
	if _, err := pg.Exec(context.Background(), `INSERT INTO deposit_events (deposit_id, kind, status, confirmations, generation)
		VALUES ($1, $2, 0, $3, 0)`, deposit, kind, confs); err != nil {
		t.Fatal(err)
	}
}
