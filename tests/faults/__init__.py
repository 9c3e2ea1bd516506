"""The fault-injection suite (``python -m tests.faults.suite``): see suite.py."""
