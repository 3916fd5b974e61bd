"""The built-in suites: one module per area. ``tradeoff list`` shows them."""
