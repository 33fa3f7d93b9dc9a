"""The one registry of views: the report, the CLI and tracking all iterate over it.

Built-in views are listed in :data:`BUILTIN` (report order); a plugin adds its own with
:func:`register_view` when :func:`genlens.plugins.load_plugins` imports it -- one folder plus one
registration line, nothing else edited.
"""

from __future__ import annotations

from genlens.errors import ConfigError
from genlens.plugins import load_attr, load_plugins
from genlens.views.base import View

#: ``module:class`` of every built-in view, in report order.
BUILTIN: tuple[str, ...] = (
    "genlens.metrics.view:MetricsView",
    "genlens.regions.view:RegionsView",
    "genlens.critic.view:CriticView",
    "genlens.semantics.view:SemanticsView",
    "genlens.manifold.view:ManifoldView",
    "genlens.atlas.view:AtlasView",
)

_registered: dict[str, View] = {}
_builtin_keys: list[str] | None = None


def register_view(view: View | type[View] | str) -> View:
    """Add a view (an instance, a class, or ``"pkg.module:Class"``) to the registry; returns it."""
    if isinstance(view, str):
        view = load_attr(view, "view")
    if isinstance(view, type):
        view = view()
    if not isinstance(view, View):
        raise ConfigError(f"{view!r} is not a genlens view (subclass genlens.views.View)")
    _registered[view.key] = view
    return view


def views() -> list[View]:
    """Every view: the built-in ones in report order, then those plugins registered."""
    global _builtin_keys
    if _builtin_keys is None:
        _builtin_keys = [register_view(spec).key for spec in BUILTIN]
        load_plugins()
    return [_registered[k] for k in _builtin_keys] + [v for k, v in _registered.items() if k not in _builtin_keys]


def get_view(key: str) -> View:
    """The view registered under ``key``."""
    found = {v.key: v for v in views()}
    if key not in found:
        raise ConfigError(f"unknown view {key!r}; views: {', '.join(found)}")
    return found[key]
