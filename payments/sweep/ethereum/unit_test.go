package ethsweep

import (
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

func TestFeeCaps(t *testing.T) {
	b := big.NewInt
	for _, c := range []struct {
		name               string
		base, tip, ceiling *big.Int
		wantMax, wantTip   int64
		wantWait           bool
	}{
		{"2 x base + tip", b(10), b(2), b(1000), 22, 2, false},
		{"capped by the ceiling", b(100), b(5), b(150), 150, 5, false},
		{"tip shrinks under the ceiling", b(100), b(80), b(150), 150, 50, false},
		{"ceiling at the base fee waits", b(150), b(1), b(150), 0, 0, true},
		{"ceiling below the base fee waits", b(200), b(1), b(150), 0, 0, true},
		{"no ceiling", b(7), b(1), nil, 15, 1, false},
		{"no tip", b(7), nil, b(100), 14, 0, false},
		{"zero base fee", b(0), b(1), b(100), 1, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := feeCaps(c.base, c.tip, c.ceiling)
			if c.wantWait {
				if !errors.Is(err, sweep.ErrWait) {
					t.Fatalf("feeCaps = %+v, %v; want ErrWait", f, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Max.Int64() != c.wantMax || f.Tip.Int64() != c.wantTip {
				t.Errorf("max %s tip %s, want %d %d", f.Max, f.Tip, c.wantMax, c.wantTip)
			}
			if f.Tip.Cmp(f.Max) > 0 {
				t.Errorf("tip %s above max %s", f.Tip, f.Max)
			}
		})
	}
	if _, err := feeCaps(nil, b(1), nil); err == nil || errors.Is(err, sweep.ErrWait) {
		t.Errorf("no base fee (pre-London): %v", err)
	}
}

func TestAffordable(t *testing.T) {
	f := fees{Base: big.NewInt(10), Tip: big.NewInt(2), Max: big.NewInt(22)}
	for _, c := range []struct {
		wei     int64
		ok      bool
		wantMax int64
	}{
		{22 * 1000, true, 22},   // exactly the desired cap
		{50 * 1000, true, 22},   // more than enough: the cap stays
		{15 * 1000, true, 15},   // less: the cap comes down
		{12 * 1000, true, 12},   // down to base + tip
		{12*1000 - 1, false, 0}, // below: wait for gas
		{0, false, 0},
	} {
		g, ok := f.affordable(1000, big.NewInt(c.wei))
		if ok != c.ok || (ok && g.Max.Int64() != c.wantMax) {
			t.Errorf("affordable(1000 gas, %d wei) = %s, %v; want %d, %v", c.wei, g.Max, ok, c.wantMax, c.ok)
		}
	}
	if f.Max.Int64() != 22 {
		t.Error("affordable changed its receiver")
	}
	if withMargin(50_000) != 60_000 {
		t.Errorf("withMargin(50000) = %d", withMargin(50_000))
	}
}

func TestSelectors(t *testing.T) {
	for sig, sel := range map[string]uint32{"transfer(address,uint256)": selTransfer, "balanceOf(address)": selBalanceOf} {
		if got := binary.BigEndian.Uint32(crypto.Keccak256([]byte(sig))[:4]); got != sel {
			t.Errorf("%s: selector %08x, want %08x", sig, sel, got)
		}
	}
	if got := crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)")); got != transferTopic {
		t.Errorf("Transfer topic %s, want %s", transferTopic, got)
	}
}

func TestTransferCalldata(t *testing.T) {
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	amount := big.NewInt(1_234_567)
	data, err := transferCalldata(to, amount)
	if err != nil {
		t.Fatal(err)
	}
	want, err := devnet.TransferCalldata(to.Hex(), amount)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(want) {
		t.Errorf("calldata %x, devnet's %x", data, want)
	}
	gotTo, gotAmount, ok := parseTransfer(data)
	if !ok || gotTo != to || gotAmount.Cmp(amount) != 0 {
		t.Errorf("parseTransfer = %s %v %v", gotTo.Hex(), gotAmount, ok)
	}
	for name, bad := range map[string][]byte{
		"short":          data[:67],
		"long":           append(append([]byte{}, data...), 0),
		"other method":   append([]byte{1, 2, 3, 4}, data[4:]...),
		"dirty address":  append(append(append([]byte{}, data[:4]...), 1), data[5:]...),
		"balanceOf call": balanceOfCalldata(to),
	} {
		if _, _, ok := parseTransfer(bad); ok {
			t.Errorf("%s: parsed as a transfer", name)
		}
	}
	if _, err := transferCalldata(to, big.NewInt(-1)); err == nil {
		t.Error("a negative amount was encoded")
	}
	if _, err := transferCalldata(to, new(big.Int).Lsh(big.NewInt(1), 256)); err == nil {
		t.Error("an amount of 2**256 was encoded")
	}
}

func TestHasTransferLog(t *testing.T) {
	token := common.HexToAddress("0x1000000000000000000000000000000000000001")
	from := common.HexToAddress("0x2000000000000000000000000000000000000002")
	to := common.HexToAddress("0x3000000000000000000000000000000000000003")
	amount := big.NewInt(500)
	word := func(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }
	good := &types.Log{Address: token, Topics: []common.Hash{transferTopic, word(from), word(to)}, Data: common.LeftPadBytes(amount.Bytes(), 32)}
	if !hasTransferLog([]*types.Log{nil, good}, token, from, to, amount) {
		t.Fatal("the Transfer log was not found")
	}
	variants := map[string]func(l *types.Log){
		"other emitter":  func(l *types.Log) { l.Address = to },
		"other event":    func(l *types.Log) { l.Topics[0] = common.Hash{1} },
		"other sender":   func(l *types.Log) { l.Topics[1] = word(to) },
		"other receiver": func(l *types.Log) { l.Topics[2] = word(from) },
		"other amount":   func(l *types.Log) { l.Data = common.LeftPadBytes([]byte{1}, 32) },
		"no data":        func(l *types.Log) { l.Data = nil },
		"four topics":    func(l *types.Log) { l.Topics = append(l.Topics, common.Hash{}) },
	}
	for name, change := range variants {
		l := *good
		l.Topics = append([]common.Hash{}, good.Topics...)
		change(&l)
		if hasTransferLog([]*types.Log{&l}, token, from, to, amount) {
			t.Errorf("%s: counted as the transfer", name)
		}
	}
}

func TestFeeJob(t *testing.T) {
	in := []sweep.Input{{Address: "0xabc", Account: 1, Index: 2}}
	job := &sweep.Job{ID: 9, Chain: "eth", Currency: "USDT", MerchantID: 3, Kind: sweep.KindForward, Destination: "0xdest",
		Gross: big.NewInt(1000), FeeService: big.NewInt(40), FeeAddress: "0xfee", Inputs: in}
	f := FeeJob(job)
	if f == nil || f.Kind != sweep.KindSettle || f.Destination != "0xfee" || f.Gross.Int64() != 40 || f.FeeService.Sign() != 0 ||
		f.Currency != "USDT" || f.MerchantID != 3 || f.AfterSweep != 9 || len(f.Inputs) != 1 {
		t.Fatalf("FeeJob = %+v", f)
	}
	for name, j := range map[string]*sweep.Job{
		"no fee":         {Kind: sweep.KindSettle, Gross: big.NewInt(1), FeeService: big.NewInt(0), FeeAddress: "0xfee"},
		"no fee address": {Kind: sweep.KindSettle, Gross: big.NewInt(1), FeeService: big.NewInt(5)},
		"gas top-up":     {Kind: sweep.KindGas, Gross: big.NewInt(1), FeeService: big.NewInt(5), FeeAddress: "0xfee"},
		"withdrawal":     {Kind: sweep.KindWithdraw, Gross: big.NewInt(1), FeeService: big.NewInt(5), FeeAddress: "0xfee"},
	} {
		if FeeJob(j) != nil {
			t.Errorf("%s: a fee job", name)
		}
	}
}

func TestOperatorAddresses(t *testing.T) {
	seed, err := keys.ParseSeed("000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	tank, err := GasTankAddress(seed, "dev")
	if err != nil {
		t.Fatal(err)
	}
	hot, err := HotWalletAddress(seed, "mainnet")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got     string
		account uint32
	}{{tank, GasTankAccount}, {hot, HotWalletAccount}} {
		want, err := seed.Address(keys.ETH, "mainnet", c.account, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c.got != want || !strings.HasPrefix(c.got, "0x") {
			t.Errorf("account %d: %s, want %s", c.account, c.got, want)
		}
		path, err := keys.Scheme{Family: keys.EVM, Chain: "eth", Network: "dev"}.Path(c.account, 0)
		if err != nil || !strings.HasPrefix(path, "m/44'/60'/214748364") {
			t.Errorf("path %s %v", path, err)
		}
	}
	if tank == hot {
		t.Error("the gas tank is the hot wallet")
	}
	// EVM keys depend on no network (New checks the node's chain id).
	if a, err := GasTankAddress(seed, "amoy"); err != nil || a != tank {
		t.Errorf("gas tank on another network: %s (%v), want %s", a, err, tank)
	}
	if _, err := GasTankAddress(seed, ""); err == nil {
		t.Error("no network gave a gas tank")
	}
}

func TestServiceFee(t *testing.T) {
	fee := big.NewInt(7)
	for kind, want := range map[string]int64{sweep.KindSettle: 7, sweep.KindHot: 7, sweep.KindForward: 7, sweep.KindGas: 0, sweep.KindWithdraw: 0} {
		if got := serviceFee(&sweep.Job{Kind: kind, FeeService: fee}); got.Int64() != want {
			t.Errorf("%s: service fee %s, want %d", kind, got, want)
		}
	}
	if serviceFee(&sweep.Job{Kind: sweep.KindSettle}).Sign() != 0 {
		t.Error("a nil fee is not 0")
	}
}

func TestSenderOf(t *testing.T) {
	seed, err := keys.ParseSeed("000102030405060708090a0b0c0d0e0f")
	if err != nil {
		t.Fatal(err)
	}
	c := &Chain{seed: seed, cfg: Config{Chain: "eth", Network: "dev"}, tokens: map[string]Token{
		"USDT": {Symbol: "USDT", KeyBranch: 1},
		"USDC": {Symbol: "USDC", KeyBranch: 2},
	}}
	c.tank, _ = operatorAddress(seed, "eth", "dev", GasTankAccount)
	c.hot, _ = operatorAddress(seed, "eth", "dev", HotWalletAccount)
	addr := func(cur keys.Currency, a, i uint32) string {
		s, err := seed.Address(cur, "dev", a, i)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ethIn := sweep.Input{Address: addr(keys.ETH, 1, 2), Currency: "ETH", Account: 1, Index: 2}
	usdtIn := sweep.Input{Address: addr(keys.USDT, 1, 2), Currency: "USDT", Account: 1, Index: 2}
	usdc, err := seed.AddressFor(keys.Scheme{Family: keys.EVM, Chain: "eth", Network: "dev", Branch: 2}, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	usdcIn := sweep.Input{Address: usdc, Currency: "USDC", Account: 1, Index: 2}
	for _, ok := range []*sweep.Job{
		{Kind: sweep.KindSettle, Currency: "ETH", Inputs: []sweep.Input{ethIn, ethIn}},
		{Kind: sweep.KindForward, Currency: "USDT", Inputs: []sweep.Input{usdtIn}},
		{Kind: sweep.KindHot, Currency: "USDC", Inputs: []sweep.Input{usdcIn}},
	} {
		s, err := c.senderOf(ok)
		if err != nil || !strings.EqualFold(s.addr.Hex(), ok.Inputs[0].Address) || s.key.BTCEC() == nil {
			t.Errorf("%s %s: %s %v", ok.Kind, ok.Currency, s.addr.Hex(), err)
		}
	}
	if s, err := c.senderOf(&sweep.Job{Kind: sweep.KindGas, Currency: "USDT"}); err != nil || s.addr != c.tank {
		t.Errorf("gas top-up from %s (%v), want the tank", s.addr.Hex(), err)
	}
	if s, err := c.senderOf(&sweep.Job{Kind: sweep.KindWithdraw, Currency: "USDT"}); err != nil || s.addr != c.hot {
		t.Errorf("withdrawal from %s (%v), want the hot wallet", s.addr.Hex(), err)
	}
	other := ethIn
	other.Index, other.Address = 3, addr(keys.ETH, 1, 3)
	wrongAddr := ethIn
	wrongAddr.Address = usdtIn.Address
	for name, bad := range map[string]*sweep.Job{
		"no inputs":            {Kind: sweep.KindSettle, Currency: "ETH"},
		"two addresses":        {Kind: sweep.KindSettle, Currency: "ETH", Inputs: []sweep.Input{ethIn, other}},
		"USDT key for ETH":     {Kind: sweep.KindSettle, Currency: "ETH", Inputs: []sweep.Input{wrongAddr}},
		"USDT key for USDC":    {Kind: sweep.KindSettle, Currency: "USDC", Inputs: []sweep.Input{{Address: usdtIn.Address, Currency: "USDC", Account: 1, Index: 2}}},
		"a USDT deposit":       {Kind: sweep.KindHot, Currency: "ETH", Inputs: []sweep.Input{usdtIn}},
		"unknown kind":         {Kind: "burn", Currency: "ETH", Inputs: []sweep.Input{ethIn}},
		"currency without key": {Kind: sweep.KindSettle, Currency: "DAI", Inputs: []sweep.Input{{Address: ethIn.Address, Currency: "DAI"}}},
	} {
		if _, err := c.senderOf(bad); err == nil {
			t.Errorf("%s: signed anyway", name)
		}
	}
}

// TestNative: the chain's coin is Config.Native (ETH when empty): a job in it
// is a coin transfer, any other currency a token, a gas top-up always the
// coin; two chains' NewMetrics with one registry share the collectors.
func TestNative(t *testing.T) {
	eth := &Chain{cfg: Config{Chain: "eth"}}
	pol := &Chain{cfg: Config{Chain: "poltest", Native: "POL_TEST"}}
	for _, c := range []struct {
		c              *Chain
		currency, kind string
		want           bool
	}{
		{eth, "ETH", sweep.KindSettle, true},
		{eth, "eth", sweep.KindWithdraw, true},
		{eth, "POL_TEST", sweep.KindSettle, false},
		{eth, "USDT", sweep.KindGas, true},
		{pol, "POL_TEST", sweep.KindSettle, true},
		{pol, "pol_test", sweep.KindHot, true},
		{pol, "ETH", sweep.KindSettle, false},
		{pol, "USDT_TEST", sweep.KindGas, true},
		{pol, "USDT_TEST", sweep.KindWithdraw, false},
	} {
		if got := c.c.native(c.currency, c.kind); got != c.want {
			t.Errorf("%s (coin %s): native(%s, %s) = %v, want %v", c.c.cfg.Chain, c.c.Native(), c.currency, c.kind, got, c.want)
		}
	}
	if eth.Native() != "ETH" || pol.Native() != "POL_TEST" {
		t.Errorf("Native() = %q, %q", eth.Native(), pol.Native())
	}
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	if a.TankBalance != b.TankBalance || a.TankLow != b.TankLow {
		t.Error("NewMetrics twice with one registry made new collectors")
	}
	a.TankLow.WithLabelValues("eth").Set(1)
	b.TankLow.WithLabelValues("poltest").Set(0)
	if n := testutil.CollectAndCount(reg, "sluice_gas_tank_low"); n != 2 {
		t.Errorf("%d sluice_gas_tank_low series, want eth's and poltest's", n)
	}
}
