"""zssr."""
