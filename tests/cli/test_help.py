"""``drugdesk --help`` is a map of the command line: verbs grouped by area with one line each,
under the name users type; every option of every verb shows its default (issue 13, part 9)."""

from __future__ import annotations

import argparse
import re

import pytest

from app.cli import COMMAND_GROUPS, COMMAND_PARSERS, _command_parser, main


def test_top_level_help_lists_every_verb_grouped_with_its_line(capsys):
    with pytest.raises(SystemExit) as ended:
        main(["--help"])
    assert ended.value.code == 0
    text = capsys.readouterr().out
    assert "python main.py" not in text
    assert text.startswith("usage: drugdesk ")
    grouped = [name for names in COMMAND_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(COMMAND_PARSERS)  # every verb in exactly one group
    position = -1
    for group, names in COMMAND_GROUPS.items():
        heading = text.index(f"\n  {group}:\n")
        assert heading > position  # groups in order: molecules, models, libraries, …
        position = heading
        for name in names:
            line = re.search(rf"\n    {name} +(\S.+)\n", text)
            assert line is not None, name
            assert len(line.group(1)) > 15  # a description, not a placeholder
    assert "95% CI" in text  # argparse's %% escapes do not show


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if action.option_strings and not isinstance(
            action, argparse._HelpAction | argparse._VersionAction
        ):
            yield action


@pytest.mark.parametrize("verb", list(COMMAND_PARSERS))
def test_every_option_shows_its_default(verb):
    sub = _command_parser()._subparsers._group_actions[0].choices[verb]
    formatter = sub._get_formatter()
    text = sub.format_help()
    for action in _options(sub):
        if action.required or action.default in (None, [], argparse.SUPPRESS):
            continue  # nothing to show: required, or "detected"/"none" said in the help
        shown = formatter._get_help_string(action) % {"default": action.default}
        assert "default" in shown.lower(), (verb, action.option_strings, shown)
        assert " ".join(shown.split()[:3]) in " ".join(text.split())  # and it is printed


@pytest.mark.parametrize(
    ("argv", "hint"),
    [(["prop"], "Did you mean 'props'?"), (["frobnicate"], "Commands: props")],
)
def test_a_word_that_is_neither_a_verb_nor_a_file_is_a_usage_error(capsys, argv, hint):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"'{argv[0]}' is neither a command nor a file" in err and hint in err
