"""Helpers shared by the CLI command modules: the consoles and JSON output."""

from __future__ import annotations

from genlens._console import console, err_console
from genlens._json import json_safe, write_json

__all__ = ["console", "err_console", "json_safe", "write_json"]
