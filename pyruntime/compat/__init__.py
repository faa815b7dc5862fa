"""Compatibility shims for code written against other Go-in-Python libraries."""
