"""Validation of incoming events (docs/rules.md#validation): one set of rules, a scalar and a
vectorised checker."""
