// An independent C2SP client for icac-ledger's log, on Go's golang.org/x/mod/sumdb/note
// and sumdb/tlog (Debian: golang-golang-x-mod-dev). tests/tlog_go.rs runs it in GOPATH
// mode. It verifies, with code we did not write:
//   - the checkpoint's signed note (note.Open with the log's vkey);
//   - a tlog-cosignature/v1 by the witness (message rebuilt from the spec, crypto/ed25519);
//   - the tiles: tlog.TileHashReader checks every tile it reads against the checkpoint's
//     root, tlog.TreeHash rebuilds the root, tlog.ProveRecord/CheckRecord prove entries
//     from the entry bundles, tlog.ProveTree/CheckTree prove consistency with an older
//     checkpoint;
//   - a filing receipt (C2SP tlog-proof): its inclusion proof with tlog.CheckRecord.
//
// Usage: go_tlog -base URL|DIR -log VKEY [-witness VKEY] [-old FILE] [-receipt FILE]
// Prints "OK ..." lines and exits 0, or prints the failure and exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var base string

func fetch(path string) ([]byte, error) {
	if strings.HasPrefix(base, "http://") {
		resp, err := http.Get(base + "/" + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	return os.ReadFile(filepath.Join(base, path))
}

// c2spPath maps Go's sumdb tile path (tile/8/L/N[.p/W]) to C2SP tlog-tiles
// (tile/L/N[.p/W], entries at tile/entries/N).
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

type reader struct{}

func (reader) Height() int { return 8 }
func (reader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := fetch(c2spPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (reader) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	text   string
	origin string
	size   int64
	root   tlog.Hash
}

func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, *note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("note.Open: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, nil, fmt.Errorf("checkpoint too short")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, nil, err
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, nil, err
	}
	return checkpoint{n.Text, lines[0], size, root}, n, nil
}

// checkCosignature verifies a tlog-cosignature/v1 line of the witness in the note.
func checkCosignature(msg []byte, text string, vkey string) (uint64, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad witness vkey")
	}
	name := parts[0]
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		return 0, fmt.Errorf("witness vkey is not an Ed25519 cosignature/v1 key")
	}
	pub := ed25519.PublicKey(raw[1:])
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(raw)
	id := h.Sum(nil)[:4]
	for _, line := range strings.Split(string(msg), "\n") {
		prefix := "\u2014 " + name + " "
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, prefix))
		if err != nil || len(blob) != 4+8+64 || !bytes.Equal(blob[:4], id) {
			continue
		}
		ts := binary.BigEndian.Uint64(blob[4:12])
		signed := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, text)
		if !ed25519.Verify(pub, []byte(signed), blob[12:]) {
			return 0, fmt.Errorf("cosignature by %s does not verify", name)
		}
		return ts, nil
	}
	return 0, fmt.Errorf("no cosignature by %s", name)
}

func entry(size, i int64) ([]byte, error) {
	t := tlog.TileForIndex(8, tlog.StoredHashIndex(0, i))
	// TileForIndex gives the tile for a tree just past i; widen it to the tree's size.
	t.W = 256
	if max := size - t.N*256; max < 256 {
		t.W = int(max)
	}
	t.L = -1
	b, err := fetch(c2spPath(t))
	if err != nil {
		return nil, err
	}
	for k := int64(0); ; k++ {
		if len(b) < 2 {
			return nil, fmt.Errorf("entry %d missing from its bundle", i)
		}
		l := int(binary.BigEndian.Uint16(b[:2]))
		if len(b) < 2+l {
			return nil, fmt.Errorf("truncated entry bundle")
		}
		if k == i%256 {
			return b[2 : 2+l], nil
		}
		b = b[2+l:]
	}
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	logKey := flag.String("log", "", "log vkey")
	witnessKey := flag.String("witness", "", "witness vkey")
	oldFile := flag.String("old", "", "an older checkpoint of the log")
	receiptFile := flag.String("receipt", "", "a tlog-proof receipt")
	flag.StringVar(&base, "base", "", "tiles prefix URL or directory")
	flag.Parse()
	v, err := note.NewVerifier(*logKey)
	if err != nil {
		fail("log vkey: %v", err)
	}
	msg, err := fetch("checkpoint")
	if err != nil {
		fail("checkpoint: %v", err)
	}
	cp, _, err := openCheckpoint(msg, v)
	if err != nil {
		fail("checkpoint: %v", err)
	}
	fmt.Printf("OK checkpoint %s size %d root %s\n", cp.origin, cp.size, cp.root)
	if *witnessKey != "" {
		ts, err := checkCosignature(msg, cp.text, *witnessKey)
		if err != nil {
			fail("%v", err)
		}
		fmt.Printf("OK cosignature/v1 at %d\n", ts)
	}
	thr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, reader{})
	th, err := tlog.TreeHash(cp.size, thr)
	if err != nil || th != cp.root {
		fail("tree hash from tiles: %v %v", th, err)
	}
	fmt.Printf("OK tree hash from tiles\n")
	for _, i := range []int64{0, cp.size / 2, cp.size - 1} {
		e, err := entry(cp.size, i)
		if err != nil {
			fail("entry %d: %v", i, err)
		}
		p, err := tlog.ProveRecord(cp.size, i, thr)
		if err != nil {
			fail("prove record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, cp.size, cp.root, i, tlog.RecordHash(e)); err != nil {
			fail("check record %d: %v", i, err)
		}
		fmt.Printf("OK inclusion of entry %d (%s)\n", i, hex.EncodeToString(e))
	}
	if *oldFile != "" {
		b, err := os.ReadFile(*oldFile)
		if err != nil {
			fail("%v", err)
		}
		old, _, err := openCheckpoint(b, v)
		if err != nil {
			fail("old checkpoint: %v", err)
		}
		p, err := tlog.ProveTree(cp.size, old.size, thr)
		if err != nil {
			fail("prove tree: %v", err)
		}
		if err := tlog.CheckTree(p, cp.size, cp.root, old.size, old.root); err != nil {
			fail("consistency %d -> %d: %v", old.size, cp.size, err)
		}
		fmt.Printf("OK consistency %d -> %d\n", old.size, cp.size)
	}
	if *receiptFile != "" {
		checkReceipt(*receiptFile, v, *witnessKey)
	}
}

func checkReceipt(file string, v note.Verifier, witnessKey string) {
	b, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	parts := strings.SplitN(string(b), "\n\n", 2)
	if len(parts) != 2 {
		fail("receipt: no checkpoint")
	}
	lines := strings.Split(parts[0], "\n")
	if len(lines) < 3 || lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
		fail("receipt: bad header")
	}
	extra, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	if err != nil {
		fail("receipt extra: %v", err)
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
	if err != nil {
		fail("receipt index: %v", err)
	}
	var proof tlog.RecordProof
	for _, l := range lines[3:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			fail("receipt proof: %v", err)
		}
		proof = append(proof, h)
	}
	cp, _, err := openCheckpoint([]byte(parts[1]), v)
	if err != nil {
		fail("receipt checkpoint: %v", err)
	}
	if witnessKey != "" {
		if _, err := checkCosignature([]byte(parts[1]), cp.text, witnessKey); err != nil {
			fail("receipt: %v", err)
		}
	}
	const header = "icac-ledger-receipt/v1\nprev "
	if !bytes.HasPrefix(extra, []byte(header)) || len(extra) < len(header)+65 {
		fail("receipt extra: bad record header")
	}
	prev, err := hex.DecodeString(string(extra[len(header) : len(header)+64]))
	if err != nil {
		fail("receipt prev: %v", err)
	}
	canonical := extra[len(header)+65:]
	h := sha256.New()
	h.Write([]byte("icac-ledger:event:v1\x00"))
	h.Write(prev)
	h.Write(canonical)
	eventHash := h.Sum(nil)
	if err := tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(eventHash)); err != nil {
		fail("receipt inclusion: %v", err)
	}
	fmt.Printf("OK receipt: event %x at index %d under size %d\n", eventHash, index, cp.size)
}
