"""netc."""
