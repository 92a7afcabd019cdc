// Command cosig_verify checks a C2SP cosignature/v1 (Ed25519) on a signed note, with
// golang.org/x/mod/sumdb/note parsing the note and Go's crypto/ed25519 checking the
// signature: an implementation independent of audit/cosignature.py.
//
// Usage: cosig_verify <witness name> <base64 32-byte Ed25519 public key> < note
//
// Prints "OK <timestamp>" when the note carries a valid cosignature of that witness;
// prints the error and exits 1 otherwise. Used by tests/witness/test_cosignature_go.py.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/mod/sumdb/note"
)

// cosigV1 implements note.Verifier for the cosignature/v1 signature type (0x04).
type cosigV1 struct {
	name      string
	hash      uint32
	key       ed25519.PublicKey
	timestamp uint64
}

func (v *cosigV1) Name() string    { return v.name }
func (v *cosigV1) KeyHash() uint32 { return v.hash }

func (v *cosigV1) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig[:8])
	signed := []byte("cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n")
	signed = append(signed, msg...)
	if !ed25519.Verify(v.key, signed, sig[8:]) {
		return false
	}
	v.timestamp = ts
	return true
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cosig_verify <name> <base64 key> < note")
		os.Exit(2)
	}
	key, err := base64.StdEncoding.DecodeString(os.Args[2])
	if err != nil || len(key) != ed25519.PublicKeySize {
		fmt.Fprintln(os.Stderr, "bad key")
		os.Exit(2)
	}
	h := sha256.New()
	h.Write([]byte(os.Args[1] + "\n"))
	h.Write([]byte{0x04})
	h.Write(key)
	v := &cosigV1{name: os.Args[1], hash: binary.BigEndian.Uint32(h.Sum(nil)[:4]), key: key}
	msg, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(2)
	}
	_, err = note.Open(msg, note.VerifierList(v))
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		fmt.Fprintln(os.Stderr, "open: no cosignature of", v.name)
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	fmt.Printf("OK %d\n", v.timestamp)
}
