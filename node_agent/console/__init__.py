"""The web console (``xinlian console serve``): a browser front for one node's identity.

It is a client of the gateway like the rest of :mod:`node_agent`: every page calls the
gateway's gRPC API with the signed-in node's own certificate, so the gateway decides what
the node may see and records every search and trace in the ledger. The console adds no
authority of its own (docs/console.md)."""
