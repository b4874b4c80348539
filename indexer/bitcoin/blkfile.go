package bitcoin

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/sluicepay/sluice/indexer"
)

// A node's blocks directory holds blk*.dat files: records of network magic,
// a little-endian length and a serialized block, in the order the node
// received them (not chain order), with zero padding where a file was
// preallocated. Bitcoin Core 28+ also XORs the files with the key in xor.dat.

// blockLoc is where one block lies in the blocks directory.
type blockLoc struct {
	file   int // index into BlocksDir.files
	offset int64
	size   uint32
	prev   chainhash.Hash
}

// BlocksDir is an index of the blocks in a node's blocks directory.
type BlocksDir struct {
	files  []string
	xor    []byte
	blocks map[chainhash.Hash]blockLoc
	// Skipped counts records that were not blocks of this network (bad magic
	// inside a file, truncated tails): reported, never fatal.
	Skipped int
}

// MaxBlockSize bounds a record's length: anything larger is corruption.
const MaxBlockSize = 32 << 20

// ScanBlocksDir reads every record header of dir's blk*.dat files (headers
// only: block bodies are skipped, not read) for the network whose magic is given.
func ScanBlocksDir(dir string, magic [4]byte, progress func(file string, blocks int)) (*BlocksDir, error) {
	files, err := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no blk*.dat files in %s (point --blocks-dir at the node's blocks directory)", dir)
	}
	sort.Strings(files) // blk00000.dat, blk00001.dat, ...: zero-padded, so lexical order is numeric
	bd := &BlocksDir{files: files, blocks: map[chainhash.Hash]blockLoc{}}
	if key, err := os.ReadFile(filepath.Join(dir, "xor.dat")); err == nil && len(key) > 0 && !allZero(key) {
		bd.xor = key
	}
	for i, f := range files {
		if err := bd.scanFile(i, magic); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(filepath.Base(f), len(bd.blocks))
		}
	}
	return bd, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// xorAt undoes Core's obfuscation of buf, read at file offset off.
func (bd *BlocksDir) xorAt(buf []byte, off int64) {
	if bd.xor == nil {
		return
	}
	k := int64(len(bd.xor))
	for i := range buf {
		buf[i] ^= bd.xor[(off+int64(i))%k]
	}
}

func (bd *BlocksDir) scanFile(idx int, magic [4]byte) error {
	name := bd.files[idx]
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	r := bufio.NewReaderSize(f, 1<<16)
	var off int64
	head := make([]byte, 8+80)
	for off+8 <= size {
		if _, err := io.ReadFull(r, head[:8]); err != nil {
			return fmt.Errorf("%s at %d: %w", name, off, err)
		}
		bd.xorAt(head[:8], off)
		n := binary.LittleEndian.Uint32(head[4:8])
		if allZero(head[:4]) {
			break // preallocated zero padding: the rest of the file is empty
		}
		if [4]byte(head[:4]) != magic || n < 80 || n > MaxBlockSize || off+8+int64(n) > size {
			// not a record of this network, or a torn write at the end of the file
			bd.Skipped++
			break
		}
		if _, err := io.ReadFull(r, head[8:]); err != nil {
			return fmt.Errorf("%s at %d: %w", name, off, err)
		}
		bd.xorAt(head[8:], off+8)
		hash := chainhash.DoubleHashH(head[8:88])
		var prev chainhash.Hash
		copy(prev[:], head[12:44])
		bd.blocks[hash] = blockLoc{file: idx, offset: off + 8, size: n, prev: prev}
		if _, err := r.Discard(int(n) - 80); err != nil {
			return fmt.Errorf("%s at %d: %w", name, off, err)
		}
		off += 8 + int64(n)
	}
	return nil
}

// Len is the number of blocks found.
func (bd *BlocksDir) Len() int { return len(bd.blocks) }

// Chain returns the block hashes from genesis to tip, in order. tip is the
// node's best block when known; empty picks the highest block found (ties
// and forks resolved by height, not work: pass the node's tip when there is one).
func (bd *BlocksDir) Chain(tip string) ([]chainhash.Hash, error) {
	var end chainhash.Hash
	if tip != "" {
		h, err := chainhash.NewHashFromStr(tip)
		if err != nil {
			return nil, fmt.Errorf("tip %q: %w", tip, err)
		}
		end = *h
		if _, ok := bd.blocks[end]; !ok {
			// the node is ahead of its files' flush, or the files are older: use the
			// highest block of the files that the node's chain also has; the caller
			// checks that by hash against the node.
			end = chainhash.Hash{}
		}
	}
	if end == (chainhash.Hash{}) {
		best, bestH := chainhash.Hash{}, -1
		heights := map[chainhash.Hash]int{}
		height := func(h chainhash.Hash) int {
			// iterative walk to the first block with a known height, then fill in
			var path []chainhash.Hash
			cur := h
			base := -1
			for {
				if v, ok := heights[cur]; ok {
					base = v
					break
				}
				loc, ok := bd.blocks[cur]
				if !ok {
					break // parent not in the files: cur is a root (genesis's parent is zero)
				}
				path = append(path, cur)
				cur = loc.prev
			}
			for i := len(path) - 1; i >= 0; i-- {
				base++
				heights[path[i]] = base
			}
			return heights[h]
		}
		for h := range bd.blocks {
			if v := height(h); v > bestH || (v == bestH && h.String() < best.String()) {
				best, bestH = h, v
			}
		}
		end = best
	}
	var chain []chainhash.Hash
	for cur := end; ; {
		loc, ok := bd.blocks[cur]
		if !ok {
			break
		}
		chain = append(chain, cur)
		cur = loc.prev
		if len(chain) > len(bd.blocks) {
			return nil, errors.New("blocks directory has a cycle of parent hashes: corrupt files")
		}
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	if len(chain) == 0 {
		return nil, errors.New("no chain found in the blocks directory")
	}
	if first := bd.blocks[chain[0]]; first.prev != (chainhash.Hash{}) {
		return nil, fmt.Errorf("the files do not start at the genesis block (first block's parent %s is missing)", first.prev)
	}
	return chain, nil
}

// ReadBlock returns the raw bytes of a block found by the scan.
func (bd *BlocksDir) ReadBlock(h chainhash.Hash) ([]byte, error) {
	loc, ok := bd.blocks[h]
	if !ok {
		return nil, fmt.Errorf("block %s is not in the blocks directory", h)
	}
	f, err := os.Open(bd.files[loc.file])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, loc.size)
	if _, err := f.ReadAt(buf, loc.offset); err != nil {
		return nil, fmt.Errorf("%s at %d: %w", bd.files[loc.file], loc.offset, err)
	}
	bd.xorAt(buf, loc.offset)
	return buf, nil
}

// FileSource serves a chain read from a blocks directory to the follower,
// so an import runs the same pipeline, checks and checkpoints as live indexing.
type FileSource struct {
	Dir    *BlocksDir
	Chain  []chainhash.Hash
	Params *Params
}

// Tip is the last block of the chain found in the files.
func (s *FileSource) Tip(context.Context) (int64, string, error) {
	return int64(len(s.Chain) - 1), s.Chain[len(s.Chain)-1].String(), nil
}

// HashAt returns the file chain's hash at height.
func (s *FileSource) HashAt(_ context.Context, height int64) (string, error) {
	if height < 0 || height >= int64(len(s.Chain)) {
		return "", fmt.Errorf("height %d: %w", height, indexer.ErrNoBlock)
	}
	return s.Chain[height].String(), nil
}

// Fetch reads and decodes a block from the files.
func (s *FileSource) Fetch(_ context.Context, height int64, hash string) (Indexed, error) {
	h, err := chainhash.NewHashFromStr(hash)
	if err != nil {
		return Indexed{}, err
	}
	raw, err := s.Dir.ReadBlock(*h)
	if err != nil {
		return Indexed{}, err
	}
	b, err := Decode(raw, s.Params)
	if err != nil {
		return Indexed{}, fmt.Errorf("block %s (height %d) in the blocks directory does not decode: %w", hash, height, err)
	}
	if !strings.EqualFold(b.Hash, hash) {
		return Indexed{}, fmt.Errorf("block at height %d decodes to %s, not %s", height, b.Hash, hash)
	}
	return Indexed{H: height, B: b}, nil
}
