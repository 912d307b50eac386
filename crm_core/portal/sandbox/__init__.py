"""The vendor portal simulator: synthetic data, fault modes, the two ASGI origins."""
