"""The department agent as a service: sync a department's own database, files or HTTP
API to the gateway, on the catalog's schedule, exactly once (``docs/agent.md``).

* ``config``: the TOML config; ``secrets``: source credentials from the environment or a file;
* ``sources``: where rows come from (SQL, a directory of files, an HTTP JSON API);
* ``mapping`` / ``convert``: rows to catalog records, checked against the catalog at start;
* ``watermark``: the agent's own state (SQLite): watermarks, rejects, run statistics;
* ``runner``: one category's sync, page by page: read, push, then save the watermark;
* ``service``: the long-lived loop: schedule, deadline warnings, certificate renewal, metrics;
* ``cli``: ``xinlian agent sync|status|resync``.
"""
