"""Generated wire contract, package xinlian.v1."""
