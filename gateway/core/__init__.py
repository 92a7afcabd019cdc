"""Gateway core: the caller, the field validation, a TTL cache and the gateway's own bounds,
which the flows, the edge and the services share. Imports no other gateway wing."""
