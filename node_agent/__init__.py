"""Client library and CLI for nodes: platforms, department agents, institutions, officers."""
