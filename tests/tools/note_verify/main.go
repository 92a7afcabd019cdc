// Command note_verify checks a signed note with golang.org/x/mod/sumdb/note.
//
// Usage: note_verify <verifier key> < note
//
// Prints "OK" and the note text on success; prints the error and exits 1 otherwise.
// Used by tests/ledger/test_checkpoint_go.py to show that Go tooling accepts the
// checkpoints XinLian signs.
package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: note_verify <verifier key> < note")
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad verifier key:", err)
		os.Exit(2)
	}
	msg, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	fmt.Print("OK\n" + n.Text)
}
