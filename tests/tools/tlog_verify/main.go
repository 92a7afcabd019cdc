// Command tlog_verify mirrors-and-checks a XinLian ledger over its C2SP tlog-tiles
// listener with golang.org/x/mod/sumdb/tlog and sumdb/note only (no XinLian code).
//
// Usage:
//
//	tlog_verify <base URL> <verifier key> <CA PEM> <client cert PEM|-> <client key PEM|-> \
//	    <index> <old checkpoint file>
//
// It fetches /checkpoint and opens it with the verifier key, reads hash tiles through
// tlog.TileHashReader (its tile/8/L/N paths mapped to C2SP's tile/L/N), fetches the
// entry bundle holding <index>, and checks the entry's inclusion proof and the
// consistency proof from the old checkpoint (also opened with the key) to the new one.
// Prints "OK ..." lines, or the error and exits 1. Used by tests/tiles/test_tlog_http.py.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

func openCheckpoint(msg []byte, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return checkpoint{}, errors.New("checkpoint: want origin, size, root")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return checkpoint{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	var h tlog.Hash
	copy(h[:], root)
	return checkpoint{lines[0], tlog.Tree{N: size, Hash: h}}, nil
}

type fetcher struct {
	base   string
	client *http.Client
}

func (f *fetcher) get(path string) ([]byte, error) {
	resp, err := f.client.Get(f.base + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// c2sp maps Go's "tile/8/L/N[.p/W]" to C2SP's "tile/L/N[.p/W]".
func c2sp(t tlog.Tile) string {
	return strings.Replace(t.Path(), fmt.Sprintf("tile/%d/", height), "tile/", 1)
}

// tileReader is the small reader tlog.TileHashReader needs.
type tileReader struct{ f *fetcher }

func (r tileReader) Height() int { return height }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.f.get(c2sp(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func entry(f *fetcher, index, size int64) ([]byte, error) {
	n := index / (1 << height)
	w := size - n*(1<<height)
	if w > 1<<height {
		w = 1 << height
	}
	path := c2sp(tlog.Tile{H: height, L: 0, N: n, W: int(w)})
	path = strings.Replace(path, "tile/0/", "tile/entries/", 1)
	bundle, err := f.get(path)
	if err != nil {
		return nil, err
	}
	for i := int64(0); len(bundle) >= 2; i++ {
		length := int(bundle[0])<<8 | int(bundle[1])
		if len(bundle) < 2+length {
			return nil, errors.New("entry bundle: truncated")
		}
		if i == index%(1<<height) {
			return bundle[2 : 2+length], nil
		}
		bundle = bundle[2+length:]
	}
	return nil, errors.New("entry bundle: index not in it")
}

func run(args []string) error {
	if len(args) != 7 {
		return errors.New("usage: tlog_verify <base URL> <verifier key> <CA PEM> <cert|-> <key|-> <index> <old checkpoint file>")
	}
	verifier, err := note.NewVerifier(args[1])
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(args[2])
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if args[3] != "-" {
		pair, err := tls.LoadX509KeyPair(args[3], args[4])
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	f := &fetcher{args[0], &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}}
	index, err := strconv.ParseInt(args[5], 10, 64)
	if err != nil {
		return err
	}
	oldMsg, err := os.ReadFile(args[6])
	if err != nil {
		return err
	}
	old, err := openCheckpoint(oldMsg, verifier)
	if err != nil {
		return fmt.Errorf("old checkpoint: %v", err)
	}
	msg, err := f.get("checkpoint")
	if err != nil {
		return err
	}
	cp, err := openCheckpoint(msg, verifier)
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	if cp.origin != old.origin {
		return fmt.Errorf("origin %q, want %q", cp.origin, old.origin)
	}
	hr := tlog.TileHashReader(cp.tree, tileReader{f})
	data, err := entry(f, index, cp.tree.N)
	if err != nil {
		return err
	}
	rp, err := tlog.ProveRecord(cp.tree.N, index, hr)
	if err != nil {
		return fmt.Errorf("inclusion proof: %v", err)
	}
	if err := tlog.CheckRecord(rp, cp.tree.N, cp.tree.Hash, index, tlog.RecordHash(data)); err != nil {
		return fmt.Errorf("inclusion: %v", err)
	}
	fmt.Printf("OK inclusion %d in %d\n", index, cp.tree.N)
	tp, err := tlog.ProveTree(cp.tree.N, old.tree.N, hr)
	if err != nil {
		return fmt.Errorf("consistency proof: %v", err)
	}
	if err := tlog.CheckTree(tp, cp.tree.N, cp.tree.Hash, old.tree.N, old.tree.Hash); err != nil {
		return fmt.Errorf("consistency: %v", err)
	}
	fmt.Printf("OK consistency %d to %d\n", old.tree.N, cp.tree.N)
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
