"""Audit ledger: RFC 9162 Merkle tree, signed checkpoints, entries, verification, trace."""
