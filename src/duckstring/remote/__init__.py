"""Talking to a Catchment from outside it: registrations and the one HTTP client.

Both the CLI and a puddle's ``p.catchment()`` use it; it never imports the server.
"""
