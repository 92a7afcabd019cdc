"""Bounds of the gateway's own (not the wire's: ``xinlian.limits``) that a flow enforces
whatever the configuration says."""

from __future__ import annotations

MIN_RETENTION_DAYS = 183
"""网络安全法 第二十一条: network logs are kept at least six months; a shorter configured
retention is raised to this."""
