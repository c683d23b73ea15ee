"""Looking up a named, versioned transform by ``name`` or ``name/version``: what renderings
(:mod:`lumina.fingerprint.rendering`) and output functions
(:mod:`lumina.fingerprint.output`) share. Pure Python: importing it never loads torch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

__all__ = ["Versioned", "look_up", "resolve"]


class Versioned(Protocol):
    """A registry entry: its version, and its ``name/version`` id."""

    version: int

    @property
    def id(self) -> str: ...


V = TypeVar("V", bound=Versioned)


def look_up(registry: Mapping[str, V], name: str, kind: str) -> V:
    """The entry of ``registry`` called ``name``; ``name/version`` is accepted when the
    version is the one this software makes.

    Parameters
    ----------
    registry : name → entry.
    name : ``name`` or ``name/version``.
    kind : how messages call an entry (``rendering``, ``output function``).

    Raises
    ------
    ValueError
        Unknown name, or a version this software does not make.
    """
    base, _, version = str(name).partition("/")
    if base not in registry:
        raise ValueError(f"unknown {kind} {name!r} (known: {', '.join(registry)})")
    entry = registry[base]
    if version and version != str(entry.version):
        raise ValueError(f"{kind} {name!r} cannot be made: this software makes {entry.id}")
    return entry


def resolve(registry: Mapping[str, V], name: str | V | None, kind: str, absent: str) -> V:
    """:func:`look_up` for a value as fingerprints and manifests hold it: an entry is
    returned as is, and None (the field left out) is the ``absent`` entry — what was made
    before the field existed.

    Raises
    ------
    ValueError
        Unknown name, or a version this software does not make.
    """
    if name is None:
        return registry[absent]
    if not isinstance(name, str):
        return name
    return look_up(registry, name, kind)
