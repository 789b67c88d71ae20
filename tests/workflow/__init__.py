"""Tests on Temporal's test servers with the worker in the test's process."""
