package bitcoin

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// Output script types, the values of Output.Type.
const (
	TypeP2PKH          = "p2pkh"
	TypeP2SH           = "p2sh"
	TypeP2WPKH         = "p2wpkh"
	TypeP2WSH          = "p2wsh"
	TypeP2TR           = "p2tr"
	TypeP2PK           = "p2pk"
	TypeMultisig       = "multisig"
	TypeNullData       = "nulldata"
	TypeWitnessUnknown = "witness_unknown"
	TypeNonStandard    = "nonstandard"
)

// Opcodes the templates use (Core's script/script.h). These few constants
// are all this package would take from txscript.
const (
	op0             = 0x00
	opData20        = 0x14
	opData33        = 0x21
	opData65        = 0x41
	opPushData1     = 0x4c
	opPushData2     = 0x4d
	opPushData4     = 0x4e
	op1             = 0x51
	op16            = 0x60
	opReturn        = 0x6a
	opDup           = 0x76
	opEqual         = 0x87
	opEqualVerify   = 0x88
	opHash160       = 0xa9
	opCheckSig      = 0xac
	opCheckMultisig = 0xae
)

// Litecoin's MWEB programs (Litecoin Core script/standard.cpp): a peg-in
// output pays witness v9 with the 32-byte kernel id, the HogEx's first output
// witness v8 with the 32-byte MWEB header hash.
const (
	mwebHogAddrVersion = 8
	mwebPegInVersion   = 9
	mwebProgramSize    = 32
)

// ClassifyScript returns the type of an output script and its address on
// network p, or nil when the type has no address form. The rules are those of
// Bitcoin Core's Solver and ExtractDestination, checked in the same order, so
// a script gets the type and address that getblock would print:
//
//   - p2pk has no address: current Bitcoin Core prints none, since the
//     output pays a key, not the key's hash. (Older Core, and Litecoin Core
//     0.21, print the key hash's P2PKH address; a watcher of that address
//     would wrongly see a payment to a script it does not hold.)
//   - witness_unknown (segwit v2..v16, or v1 not 32 bytes long) has its
//     bech32m address, as Core prints one.
//   - On Litecoin the MWEB peg-in (v9) and HogEx (v8) programs are
//     witness_unknown without an address, because Litecoin Core gives them no
//     destination.
//
// It reads script by index only; the only allocations are the address
// string and its pointer.
func ClassifyScript(script []byte, p *Params) (typ string, addr *string) {
	typ, a := scriptAddress(script, p)
	if a == "" {
		return typ, nil
	}
	return typ, &a
}

// scriptAddress is ClassifyScript with "" for no address, so that the
// decoder can store the strings its pointers refer to in one slice per
// transaction.
func scriptAddress(script []byte, p *Params) (typ, addr string) {
	typ, payload, ver := classify(script)
	switch typ {
	case TypeP2PKH:
		return typ, base58Check(p.PubKeyHashAddrID, payload)
	case TypeP2SH:
		return typ, base58Check(p.ScriptHashAddrID, payload)
	case TypeP2WPKH, TypeP2WSH, TypeP2TR:
		return typ, segwitAddress(p.Bech32HRP, ver, payload)
	case TypeWitnessUnknown:
		if p.MWEB && len(payload) == mwebProgramSize && (ver == mwebHogAddrVersion || ver == mwebPegInVersion) {
			return typ, ""
		}
		return typ, segwitAddress(p.Bech32HRP, ver, payload)
	}
	return typ, ""
}

// classify returns the script type, the hash or witness program an address
// would encode, and the witness version.
func classify(s []byte) (typ string, payload []byte, witnessVersion byte) {
	n := len(s)
	// P2SH first: Core's Solver shortcut, it takes precedence over all else.
	if n == 23 && s[0] == opHash160 && s[1] == opData20 && s[22] == opEqual {
		return TypeP2SH, s[2:22], 0
	}
	// Witness program: version opcode then one direct push of 2..40 bytes.
	if n >= 4 && n <= 42 && int(s[1])+2 == n && (s[0] == op0 || (s[0] >= op1 && s[0] <= op16)) {
		var v byte
		if s[0] != op0 {
			v = s[0] - (op1 - 1)
		}
		prog := s[2:]
		switch {
		case v == 0 && len(prog) == 20:
			return TypeP2WPKH, prog, 0
		case v == 0 && len(prog) == 32:
			return TypeP2WSH, prog, 0
		case v == 1 && len(prog) == 32:
			return TypeP2TR, prog, 1
		case v != 0:
			return TypeWitnessUnknown, prog, v
		}
		return TypeNonStandard, nil, 0
	}
	if n >= 1 && s[0] == opReturn && pushOnly(s[1:]) {
		return TypeNullData, nil, 0
	}
	if (n == 67 && s[0] == opData65 || n == 35 && s[0] == opData33) &&
		s[n-1] == opCheckSig && pubKeySize(s[1:n-1]) {
		return TypeP2PK, nil, 0
	}
	if n == 25 && s[0] == opDup && s[1] == opHash160 && s[2] == opData20 &&
		s[23] == opEqualVerify && s[24] == opCheckSig {
		return TypeP2PKH, s[3:23], 0
	}
	if isMultisig(s) {
		return TypeMultisig, nil, 0
	}
	return TypeNonStandard, nil, 0
}

// pubKeySize is Core's CPubKey::ValidSize: the first byte fixes the length
// (33 for 02/03, 65 for 04/06/07). The key is not checked against the curve.
func pubKeySize(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	switch k[0] {
	case 2, 3:
		return len(k) == 33
	case 4, 6, 7:
		return len(k) == 65
	}
	return false
}

// scriptOp reads one operation at s[pc:] the way Core's GetScriptOp does. It
// returns the opcode, the pushed data (nil for non-push opcodes), the next
// position, and false when a push runs past the end of the script.
func scriptOp(s []byte, pc int) (op byte, data []byte, next int, ok bool) {
	if pc >= len(s) {
		return 0, nil, pc, false
	}
	op = s[pc]
	pc++
	if op > opPushData4 {
		return op, nil, pc, true
	}
	var size int
	switch op {
	case opPushData1:
		if len(s)-pc < 1 {
			return 0, nil, pc, false
		}
		size = int(s[pc])
		pc++
	case opPushData2:
		if len(s)-pc < 2 {
			return 0, nil, pc, false
		}
		size = int(s[pc]) | int(s[pc+1])<<8
		pc += 2
	case opPushData4:
		if len(s)-pc < 4 {
			return 0, nil, pc, false
		}
		size32 := uint32(s[pc]) | uint32(s[pc+1])<<8 | uint32(s[pc+2])<<16 | uint32(s[pc+3])<<24
		pc += 4
		if uint64(size32) > uint64(len(s)-pc) {
			return 0, nil, pc, false
		}
		size = int(size32)
	default:
		size = int(op)
	}
	if size > len(s)-pc {
		return 0, nil, pc, false
	}
	return op, s[pc : pc+size], pc + size, true
}

// pushOnly reports whether s parses to the end and holds only pushes and
// small-integer opcodes (Core's CScript::IsPushOnly).
func pushOnly(s []byte) bool {
	for pc := 0; pc < len(s); {
		op, _, next, ok := scriptOp(s, pc)
		if !ok || op > op16 {
			return false
		}
		pc = next
	}
	return true
}

// maxMultisigKeys is Core's MAX_PUBKEYS_PER_MULTISIG.
const maxMultisigKeys = 20

// isMultisig is Core's MatchMultisig: m, then m..20 keys of valid size, then
// n equal to the key count, then OP_CHECKMULTISIG as the last byte.
func isMultisig(s []byte) bool {
	if len(s) < 1 || s[len(s)-1] != opCheckMultisig {
		return false
	}
	op, data, pc, ok := scriptOp(s, 0)
	if !ok {
		return false
	}
	m, ok := scriptNumber(op, data, 1, maxMultisigKeys)
	if !ok {
		return false
	}
	keys := 0
	for {
		op, data, pc, ok = scriptOp(s, pc)
		if !ok || !pubKeySize(data) {
			break
		}
		keys++
	}
	if !ok {
		return false
	}
	n, ok := scriptNumber(op, data, m, maxMultisigKeys)
	if !ok || n != keys {
		return false
	}
	return pc+1 == len(s)
}

// scriptNumber is Core's GetScriptNumber: a number in [lo, hi] given as
// OP_1..OP_16 or as a minimally encoded push.
func scriptNumber(op byte, data []byte, lo, hi int) (int, bool) {
	var v int
	switch {
	case op >= op1 && op <= op16:
		v = int(op - (op1 - 1))
	case op <= opPushData4:
		if !minimalPush(op, data) || len(data) > 4 {
			return 0, false
		}
		if len(data) > 0 && data[len(data)-1]&0x7f == 0 && (len(data) == 1 || data[len(data)-2]&0x80 == 0) {
			return 0, false // not minimally encoded
		}
		var x int64
		for i, b := range data {
			x |= int64(b) << (8 * i)
		}
		if len(data) > 0 && data[len(data)-1]&0x80 != 0 {
			x = -(x &^ (int64(0x80) << (8 * (len(data) - 1))))
		}
		v = int(x)
	default:
		return 0, false
	}
	if v < lo || v > hi {
		return 0, false
	}
	return v, true
}

// minimalPush is Core's CheckMinimalPush.
func minimalPush(op byte, data []byte) bool {
	n := len(data)
	switch {
	case n == 0:
		return op == op0
	case n == 1 && data[0] >= 1 && data[0] <= 16:
		return false // OP_1..OP_16 should have been used
	case n == 1 && data[0] == 0x81:
		return false // OP_1NEGATE should have been used
	case n <= 75:
		return int(op) == n
	case n <= 255:
		return op == opPushData1
	case n <= 65535:
		return op == opPushData2
	}
	return true
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Check encodes a P2PKH or P2SH address: version, 20-byte hash and
// 4-byte checksum in base58. It is base58.CheckEncode for this one size,
// without big.Int: that took a quarter of the decode time of a block of
// 8,000 outputs. TestBase58CheckMatchesBtcutil holds the two together.
func base58Check(version byte, hash []byte) string {
	var in [28]byte // 25 bytes right-aligned in seven 32-bit limbs
	in[3] = version
	copy(in[4:24], hash)
	first := sha256.Sum256(in[3:24])
	sum := sha256.Sum256(first[:])
	copy(in[24:], sum[:4])

	var limbs [7]uint64
	for i := range limbs {
		limbs[i] = uint64(binary.BigEndian.Uint32(in[4*i:]))
	}
	// Divide by 58^5 repeatedly; each remainder is five base58 digits.
	const radix = 58 * 58 * 58 * 58 * 58
	var digits [35]byte // 58^35 > 2^200
	pos := len(digits)
	for start := 0; start < len(limbs); {
		var rem uint64
		for i := start; i < len(limbs); i++ {
			cur := rem<<32 | limbs[i]
			limbs[i], rem = cur/radix, cur%radix
		}
		for k := 0; k < 5; k++ {
			pos--
			digits[pos] = base58Alphabet[rem%58]
			rem /= 58
		}
		for start < len(limbs) && limbs[start] == 0 {
			start++
		}
	}
	// Drop the zero digits the fixed-width remainders left in front, then
	// write one '1' per leading zero byte, as base58 does.
	for pos < len(digits) && digits[pos] == '1' {
		pos++
	}
	zeros := 0
	for zeros < 25 && in[3+zeros] == 0 {
		zeros++
	}
	for ; zeros > 0; zeros-- {
		pos--
		digits[pos] = '1'
	}
	return string(digits[pos:])
}

// segwitAddress encodes a witness program: bech32 for v0, bech32m for v1+
// (BIP 173, BIP 350). It returns "" only for a program no address can carry.
func segwitAddress(hrp string, version byte, program []byte) string {
	conv, err := bech32.ConvertBits(program, 8, 5, true)
	if err != nil {
		return ""
	}
	data := make([]byte, 0, 1+len(conv))
	data = append(data, version)
	data = append(data, conv...)
	var a string
	if version == 0 {
		a, err = bech32.Encode(hrp, data)
	} else {
		a, err = bech32.EncodeM(hrp, data)
	}
	if err != nil {
		return ""
	}
	return a
}
