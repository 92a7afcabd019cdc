"""Test support: a throwaway PostgreSQL cluster and an in-process gateway harness."""
