"""Caching strategies against a real store, and cache stampedes and their fixes (issue 13)."""
