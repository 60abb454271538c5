"""Accounts and access: users, roles, agencies, sessions, tokens."""
