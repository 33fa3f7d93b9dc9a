"""The two rich consoles every entry point prints through: results on stdout, progress and notes on stderr."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=False)
err_console = Console(stderr=True)
