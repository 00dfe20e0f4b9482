"""Figure builders, one module per topic. Each returns a matplotlib Figure."""
