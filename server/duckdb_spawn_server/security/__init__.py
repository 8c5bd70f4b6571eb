"""Credentials: bearer tokens (file format, hashing, the generated admin token) and TLS material."""
