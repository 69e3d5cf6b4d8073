"""Shared domain types, settings and the error tree used by every part of kefu."""
