"""Write herit's shell completion scripts from the click application.

Run from the top of the repository after changing click or the program name:

    python completions/generate.py

The scripts are click's own (``_HERIT_COMPLETE=bash_source herit`` and its zsh and fish
equivalents): they ask ``herit`` for completions at each TAB press, so new subcommands and
options complete without regenerating them.  ``tests/test_completions.py`` fails when the files
here differ from what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROG_NAME = "herit"
COMPLETE_VAR = "_HERIT_COMPLETE"
#: Shell -> file name, following each shell's convention for completion files.
FILES = {"bash": "herit.bash", "zsh": "_herit", "fish": "herit.fish"}


def render(shell: str) -> str:
    """The completion script for ``shell`` (``bash``, ``zsh`` or ``fish``)."""
    from click.shell_completion import get_completion_class

    from heritcli.cli.main import cli

    completion_class = get_completion_class(shell)
    if completion_class is None:
        raise ValueError(f"click has no completion support for {shell!r}")
    source = completion_class(cli, {}, PROG_NAME, COMPLETE_VAR).source()
    return source if source.endswith("\n") else source + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write every script into ``completions/`` (or into the directory given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else HERE
    for shell, name in FILES.items():
        path = target / name
        path.write_text(render(shell), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
