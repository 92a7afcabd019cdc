"""XinLian (信联): federated data-exchange gateway for enterprise credit information.

This package holds the generated wire contract (``xinlian.v1``), the shared error tree
(``xinlian.errors``), the clock, and the ``xinlian`` command line.
"""
