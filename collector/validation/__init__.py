"""Validation of incoming events (SPEC §4.1): one set of rules, a scalar and a vectorised checker."""
