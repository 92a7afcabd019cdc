"""Authorization domain: sharing catalog, credit codes, grants, decisions, desensitization.

Pure domain code: no gRPC, no SQL.
"""
