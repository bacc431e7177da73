"""stackctl: the native stack behind `make run` / `stop` / `restart` / `status`, and the nginx site files.

    .venv/bin/python scripts/stackctl run|restart|stop|status|check|render|generate   (--help)

scripts/run-local.sh, stop-local.sh and status-local.sh are the entry points `make` and the tests
use; they only pick the Python and call this package. Modules, one job each:

    settings.py   what a stack is started with (environment, recorded state, .env, defaults)
    instance.py   one RUN_DIR: its lock, its recorded settings, whether its supervisord is alive
    template.py   nginx/site.conf.template -> the site of a layout
    render.py     the configs of a native run (nginx main + site, supervisord) in RUN_DIR
    rpc.py        supervisord's XML-RPC over its unix socket
    watch.py      start-up: programs' states, who listens on a port, /health
    users.py      when started as root: the unprivileged users and what they may read or write
    commands.py   run, restart, stop, status, check
    cli.py        the command line

Only the standard library at import time, so `check` runs before the venv exists; python-dotenv is
imported when a .env file is read.
"""
