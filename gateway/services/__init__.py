"""gRPC servicers: thin glue between the wire contract and the gateway core."""
