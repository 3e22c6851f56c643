"""Paths and typed settings."""
