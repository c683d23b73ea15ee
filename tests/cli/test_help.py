"""Every ``lumina`` subcommand's ``--help`` says what it does and shows an example."""

from __future__ import annotations

import argparse

from lumina.cli import build_parser


def _verbs(parser: argparse.ArgumentParser, prefix: str = "lumina"):
    """(command line, parser) of every subcommand, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _verbs(sub, f"{prefix} {name}")


def test_every_subcommand_has_a_description_and_an_example():
    verbs = dict(_verbs(build_parser()))
    # The walk reaches the verbs and the library's actions.
    assert {"lumina attribute", "lumina audit", "lumina index", "lumina demo",
            "lumina library verify", "lumina keys"} <= set(verbs)
    for command, parser in verbs.items():
        text = parser.format_help()
        assert parser.description and parser.description.strip() in text, command
        assert "Example" in text, command
        # Examples are command lines of this very command, kept on their own lines.
        assert f"\n  {command} " in text or f"\n  {command}\n" in text, command


def test_library_is_optional_where_a_default_exists():
    parser = build_parser()
    assert parser.parse_args(["attribute", "t.wav"]).library is None
    assert parser.parse_args(["audit", "in", "--out", "o"]).library is None
