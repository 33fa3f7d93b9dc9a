"""Helpers shared by the CLI command modules: the consoles and JSON output."""

from __future__ import annotations

from rich.console import Console

from genlens._json import json_safe, write_json

console = Console(stderr=False)
err_console = Console(stderr=True)

__all__ = ["console", "err_console", "json_safe", "write_json"]
