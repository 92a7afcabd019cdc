"""The XinLian gateway server."""
