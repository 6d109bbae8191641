"""The console's key bindings as a whole: every binding has an id, a keymap from the
configuration (`[claimsops.keys]`, CLAIMSOPS_KEYS) rebinds any of them, and the keys of operator
actions leave the footer of a read-only console.

A binding's id is "<where>.<what>" (`jobs.upload`, `tab.logs`); `claimsops keys` lists them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from textual.actions import SkipAction
from textual.binding import ActiveBinding, Binding
from textual.dom import DOMNode
from textual.widgets import Input

from engine.config import ConfigError

_OURS = "console.app."

# The keys that perform an operator action (role-checked and audited): hidden from the footer
# and the palette, and greyed in help, when the operator cannot act.
OPERATOR_ACTION_IDS = frozenset({
    "jobs.upload", "jobs.cancel", "jobs.retry", "jobs.export",
    "job.cancel", "job.retry", "job.export", "job.reveal",
    "schedulers.run-now", "schedulers.pause-resume", "schedulers.schedule",
    "claims.ask-payer", "claims.reveal", "row.reveal", "followup.export",
})


def operator_can_act(node: DOMNode) -> bool:
    ctx = getattr(node.app, "ctx", None)
    return ctx is None or ctx.operator.can_act


def is_refused(node: DOMNode, binding: Binding) -> bool:
    """The binding performs an operator action this console's operator may not take."""
    return binding.id in OPERATOR_ACTION_IDS and not operator_can_act(node)


def field_opener(key: str, action: str, description: str, **options: object) -> Binding:
    """The key that opens a text field (a filter, find, the Claims form). A priority binding: the
    app runs it as the key arrives, before it hands the keys queued behind it to the list, so
    "/arch" typed in one go (or in one SSH packet) lands whole in the field, not "rch" in the list.
    Its action calls `step_aside_while_typing` first and focuses the field with
    `screen.set_focus`, at once."""
    return Binding(key, action, description, priority=True, **options)  # type: ignore[arg-type]


def step_aside_while_typing(node: DOMNode) -> None:
    """In a field opener's action: while a text field has the focus the key is the operator's
    text, so the action steps aside and the key types."""
    if isinstance(node.app.focused, Input):
        raise SkipAction()


class ReadOnlyKeys:
    """Mixed into a screen: in a read-only console the keys of operator actions are left out of
    its active bindings, so neither the footer nor the palette offers them. Pressed anyway, a
    key still reaches its action, which refuses it visibly and audits the refusal."""

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        active: dict[str, ActiveBinding] = super().active_bindings  # type: ignore[misc]
        return {key: item for key, item in active.items() if not is_refused(item.node, item.binding)}


@dataclass(frozen=True)
class KeyEntry:
    id: str
    key: str
    description: str
    where: str  # the class that declares it


def declared_bindings() -> Iterator[KeyEntry]:
    """Every binding our widget and screen classes declare (those imported: the console app
    imports them all), module by module."""
    classes: list[type] = []
    pending: list[type] = [DOMNode]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub not in classes:
                classes.append(sub)
                pending.append(sub)
    ours = sorted((c for c in classes if c.__module__.startswith(_OURS)), key=lambda c: (c.__module__, c.__qualname__))
    for cls in ours:
        for item in cls.__dict__.get("BINDINGS", ()):
            if isinstance(item, Binding):
                yield KeyEntry(item.id or "", item.key, item.description or item.action, cls.__name__)
            else:  # a tuple: no id possible
                yield KeyEntry("", str(item[0]), str(item[1]), cls.__name__)


@functools.cache
def binding_ids() -> frozenset[str]:
    return frozenset(entry.id for entry in declared_bindings() if entry.id)


def checked_keymap(keymap: Mapping[str, str]) -> dict[str, str]:
    """The configured keymap, every id one of ours (ConfigError naming the first unknown one)."""
    known = binding_ids()
    for binding_id in keymap:
        if binding_id not in known:
            raise ConfigError(f"CLAIMSOPS_KEYS: no key binding is called {binding_id!r} "
                              "(claimsops keys lists them)")
    return dict(keymap)
