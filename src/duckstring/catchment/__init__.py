"""The Catchment: the server that decides when Ponds run, runs them in Ducks and serves the API."""
