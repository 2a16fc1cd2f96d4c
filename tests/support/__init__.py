"""Shared test support: real servers and processes the tests start."""
