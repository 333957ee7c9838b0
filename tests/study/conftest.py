"""Study-test fixtures live in tests/conftest.py (shared with tests/faults)."""
