"""Errors the target reports to the user as one line."""

from __future__ import annotations


class TargetError(Exception):
    """A problem with the input, the settings or the database file, with its fix."""
