"""Shared analytics services: detector contract, tracking, zones."""
