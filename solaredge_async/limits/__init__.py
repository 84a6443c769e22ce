"""Limits on what the client may send: the per-minute token bucket and its helpers."""
