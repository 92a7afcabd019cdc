"""Gateway core: the caller and the field validation that the flows, the edge and the services
share. Imports no other gateway wing."""
