"""Gateway flows: one module per use case (registry, enterprises, grants, push, query, trace,
retention, checkpointer) and the Runtime they are handed. No gRPC servicers, no interceptors."""
