"""Data files shipped with the xinlian package (read with importlib.resources)."""
