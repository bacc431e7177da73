"""`studio`: the command line over a running studio's HTTP API (the same queue and history as the UI).

A client only: it talks to a studio over HTTP (STUDIO_URL, STUDIO_TOKEN) and imports nothing of the
server, so it works against any install, local or remote.
"""
