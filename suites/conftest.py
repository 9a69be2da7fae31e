"""Suites share the harness plugin's fixtures (loaded by the pytest11 entry point); nothing else here."""
