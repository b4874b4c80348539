package bitcoin

import "testing"

// TestWithdrawalFeeReserve: the reserve covers a two-input withdrawal with
// change to any destination script at the ceiling, and scales with it.
func TestWithdrawalFeeReserve(t *testing.T) {
	for _, dest := range []int{22, 25, 34} { // P2WPKH, P2PKH, P2TR/P2WSH
		size := estimateVSize(2, [][]byte{make([]byte, dest), make([]byte, 22)})
		if got := WithdrawalFeeReserve(10).Int64(); got < feeFor(10_000, size) {
			t.Errorf("reserve %d at 10 sat/vB under the fee of a %d vB withdrawal", got, size)
		}
	}
	if r1, r500 := WithdrawalFeeReserve(1).Int64(), WithdrawalFeeReserve(500).Int64(); r1 != 221 || r500 != 500*r1 {
		t.Errorf("reserves %d at 1 sat/vB and %d at 500", r1, r500)
	}
}
