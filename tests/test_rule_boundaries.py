"""The product's rules at their exact thresholds: the value at, just below and just above each one."""
