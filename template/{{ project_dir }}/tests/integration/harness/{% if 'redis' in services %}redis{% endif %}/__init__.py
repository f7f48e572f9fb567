"""Redis: the service, and clients isolated per test by a key namespace."""
