"""Nipype interfaces: thin plumbing that loads files, calls one pure function and writes files."""
