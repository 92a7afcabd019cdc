"""The gRPC edge: the interceptor chain, the access table, validation and status mapping."""
