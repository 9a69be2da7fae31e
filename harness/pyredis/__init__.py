"""A Redis node in Python, with real replication that interoperates with redis-server."""
