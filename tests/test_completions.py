"""Shell completion: the scripts in completions/ are current, load, and complete herit."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from helpers import TESTS

from heritcli.cli.help import PATH_OPTIONS, HeritCommand
from heritcli.cli.main import cli

COMPLETIONS = TESTS.parent / "completions"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate", COMPLETIONS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts__are_not_stale(shell: str) -> None:
    generate = load_generator()
    path = COMPLETIONS / generate.FILES[shell]
    assert path.read_text(encoding="utf-8") == generate.render(shell), (
        f"{path.name} is stale: run python completions/generate.py"
    )


def protocol(words: str, cword: int, shell: str = "bash") -> list[str]:
    """What herit answers to a completion request (the protocol the scripts use)."""
    env = {
        **os.environ,
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
        "_HERIT_COMPLETE": f"{shell}_complete",
    }
    done = subprocess.run(
        [sys.executable, "-m", "heritcli"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def test_protocol__subcommands_options_and_paths() -> None:
    assert protocol("herit sim", 1) == ["plain,simulate"]
    assert "plain,--causal-list" in protocol("herit simulate --ca", 2)
    assert protocol("herit plot p", 2) == ["plain,profile"]
    # A file option answers "file": the shell then completes paths itself.
    assert protocol("herit simulate --bfile ", 3) == ["file,"]
    assert protocol("herit plot grm --labels pop", 4) == ["file,pop"]


def bash_complete(line: str, cwd: Path) -> list[str]:
    words = line.split() + ([""] if line.endswith(" ") else [])
    script = (
        f"source {COMPLETIONS / 'herit.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_herit_completion herit\n"
        # An empty COMPREPLY with "compopt -o default" makes bash complete file names itself;
        # compgen -f shows what it would offer.
        'if [ ${#COMPREPLY[@]} -eq 0 ]; then compgen -f -- "${COMP_WORDS[COMP_CWORD]}"\n'
        'else printf "%s\\n" "${COMPREPLY[@]}"; fi\n'
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, check=True
    )
    return sorted(done.stdout.split())


needs_herit = pytest.mark.skipif(
    shutil.which("herit") is None, reason="the herit command is not on PATH (package not installed)"
)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash__loads_and_completes(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", "-c", f"source {COMPLETIONS / 'herit.bash'}; complete -p herit"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "complete -o nosort -F _herit_completion herit"
    if shutil.which("herit") is None:
        pytest.skip("the herit command is not on PATH (package not installed)")
    assert bash_complete("herit sim", tmp_path) == ["simulate"]
    assert "--same-causal" in bash_complete("herit simulate --sa", tmp_path)
    (tmp_path / "mice.bed").write_bytes(b"")
    (tmp_path / "mice.bim").write_bytes(b"")
    # For a file option the script hands over to bash's own file name completion.
    assert bash_complete("herit simulate --bfile mi", tmp_path) == ["mice.bed", "mice.bim"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh__loads_and_registers(tmp_path: Path) -> None:
    script = (
        f"autoload -Uz compinit; compinit -u -d {tmp_path / 'zcompdump'}; "
        f"source {COMPLETIONS / '_herit'}; print -r -- $_comps[herit]"
    )
    done = subprocess.run(["zsh", "-fc", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "_herit_completion"
    assert done.stderr == ""
    answer = protocol("herit simulate --h2", 2, shell="zsh")
    assert answer[:3] == ["plain", "--h2", "Target heritability: var(g) = X in the sample."]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@needs_herit
def test_fish__completes_commands_options_and_paths(tmp_path: Path) -> None:
    (tmp_path / "mice.bed").write_bytes(b"")

    def complete(line: str) -> list[str]:
        script = f"source {COMPLETIONS / 'herit.fish'}; complete -C'{line}'"
        done = subprocess.run(
            ["fish", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
        )
        assert done.stderr == ""
        return done.stdout.splitlines()

    assert complete("herit sim") == [
        "simulate\tSimulate phenotypes with a known h2 from real genotypes."
    ]
    assert complete("herit simulate --bf") == ["--bfile\tPLINK .bed/.bim/.fam prefix."]
    assert complete("herit simulate --bfile mi") == ["mice.bed"]


def iter_commands(group: click.Group, prefix: str = "herit"):
    for name, command in sorted(group.commands.items()):
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from iter_commands(command, f"{prefix} {name}")


def test_path_options__complete_as_paths() -> None:
    """Every file option of a HeritCommand completes paths (click.Path)."""
    checked = 0
    for _, command in iter_commands(cli):
        if not isinstance(command, HeritCommand):
            continue
        for param in command.params:
            if param.name in PATH_OPTIONS:
                assert isinstance(param.type, click.Path), (command.name, param.name)
                checked += 1
    assert checked >= 10
