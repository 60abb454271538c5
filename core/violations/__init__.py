"""Violations: what analytics caught, reviewed by an officer, escalated by the ladder, handed to the sinks.

``docs/enforcement.md`` explains the workflow to an agency's administrator.
"""
