"""The keys of the current view, for the `?` help and the command palette.

Both read the bindings that are active on the screen (the focused view's, the screen's and
the app's), so they always match the footer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen

from console.app.keys import binding_ids, is_refused, operator_can_act


def _declared_by_us(binding: Binding) -> bool:
    """One of our bindings (every one has an id), not one Textual's widgets or App bring along
    (the cursor keys of an Input, the App's own ctrl+q)."""
    return binding.id is not None and binding.id in binding_ids()


@dataclass(frozen=True)
class KeyHelp:
    key: str
    description: str
    tooltip: str
    action: str
    node: DOMNode
    everywhere: bool
    refused: bool = False  # an operator action this (read-only) operator may not take


def view_keys(app: App[object], screen: Screen[object]) -> list[KeyHelp]:
    """Our active bindings on `screen`, the view's first, then the app's; in a read-only console
    also the operator actions switched off here (`refused`)."""
    seen: set[tuple[str, str]] = set()
    out: list[KeyHelp] = []

    def add(binding: Binding, node: DOMNode, tooltip: str, refused: bool = False) -> None:
        if not binding.description or not _declared_by_us(binding):
            return
        if (binding.action, binding.description) in seen:
            return
        seen.add((binding.action, binding.description))
        out.append(
            KeyHelp(
                key=app.get_key_display(binding), description=binding.description,
                tooltip=binding.tooltip or tooltip, action=binding.action, node=node,
                everywhere=node is app, refused=refused,
            )
        )

    for active in screen.active_bindings.values():
        add(active.binding, active.node, active.tooltip or "")
    if not operator_can_act(screen):
        # the chain Textual reads the active bindings from (keymap applied), for the keys it left out
        for node, bindings in screen._modal_binding_chain:
            for _key, binding in bindings:
                if is_refused(node, binding):
                    add(binding, node, "", refused=True)
    out.sort(key=lambda k: k.everywhere)
    return out


def palette_commands(app: App[object], screen: Screen[object], extra: Iterable[SystemCommand]) -> list[SystemCommand]:
    """The current view's actions by name, then `extra` (app-wide commands)."""
    commands: list[SystemCommand] = []
    for item in view_keys(app, screen):
        if item.everywhere or item.refused:
            continue
        help_text = f"key {item.key}" + (f" · {item.tooltip}" if item.tooltip else "")
        callback: Callable[[], object] = partial(app.run_action, item.action, item.node)
        commands.append(SystemCommand(item.description, help_text, callback))
    commands.extend(extra)
    return commands
