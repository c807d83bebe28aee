"""Local testing without a server: hydrate puddles, then run a Pond once against them."""
