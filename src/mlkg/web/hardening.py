"""Output hardening that the templates get for free: bidirectional-text controls are made visible.

A label such as ``"safe\\u202Egnp.exe"`` would show as ``safeexe.png`` (the RIGHT-TO-LEFT OVERRIDE
reverses what follows) and can spill into the text around it. Every ``{{ value }}`` in a template
passes through `finalize`, which replaces each bidi control with a visible ``[U+XXXX]`` marker;
escaping (autoescape) happens after, as before.
"""

from __future__ import annotations

import re

from flask import Flask
from markupsafe import Markup

#: Embedding, override and isolate controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI), LRM/RLM/ALM.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def show_bidi(text: str) -> str:
    """`text` with bidi controls replaced by visible markers.

    >>> show_bidi("safe\\u202egnp.exe")
    'safe[U+202E]gnp.exe'
    """
    return BIDI_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def finalize(value: object) -> object:
    """Jinja's finalize hook: neutralize bidi controls in any string printed by a template."""
    if isinstance(value, str) and BIDI_CONTROLS.search(value):
        fixed = show_bidi(value)
        return Markup(fixed) if isinstance(value, Markup) else fixed
    return value


def install(app: Flask) -> None:
    """Apply the hooks above to `app`."""
    app.jinja_env.finalize = finalize
