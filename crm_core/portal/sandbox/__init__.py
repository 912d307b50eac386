"""The vendor portal simulator (DOMAIN B11): synthetic data, fault modes, the two ASGI origins."""
