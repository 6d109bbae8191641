"""`claimsops keys`: every key binding of the console by id, with the keys it answers to here
(the keymap of the configuration applied) — the ids a `[claimsops.keys]` table rebinds."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    text = "the console's key bindings: id, keys (as configured), what they do"
    parser = subparsers.add_parser("keys", help=text, description=text)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=keys)


def keys(args: argparse.Namespace) -> int:
    import console.app  # noqa: F401  (every view and dialog: their bindings)
    from console.app.keys import checked_keymap, declared_bindings
    from engine.config import load_settings

    keymap = checked_keymap(dict(load_settings().keys))
    entries = [
        {"id": e.id, "keys": keymap.get(e.id, e.key), "default": e.key, "does": e.description, "where": e.where}
        for e in declared_bindings()
    ]
    if args.json:
        json.dump(entries, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    width = max(len(e["id"]) for e in entries)
    for e in entries:
        mapped = "" if e["keys"] == e["default"] else f" (default {e['default']})"
        sys.stdout.write(f"{e['id']:<{width}}  {e['keys'] + mapped:<22}  {e['does']}\n")
    return 0
