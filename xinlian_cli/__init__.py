"""The ``xinlian`` command: one click group gathering the gateway's and the nodes' commands."""
