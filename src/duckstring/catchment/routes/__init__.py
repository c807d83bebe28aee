"""HTTP routes of the Catchment, one module per area."""
