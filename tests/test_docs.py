"""Everything the README and docs/ show is checked, so no sample goes stale.

The convention (also written at the top of docs/README.md):
- ```` ```console ```` blocks: `$ command` lines, each followed by its exact expected output
  (stdout and stderr together; a line `...` matches any number of lines). Each block runs with
  bash from the root of a temporary copy of the repository, the venv's `netc` first on PATH.
- ```` ```sh ```` blocks are not run, but each `netc ...` command in them (also after `|`, `&&`,
  `;`, and spelled `.venv/bin/netc`) must parse with netc's own argument parser.
- a block starting `network NAME {` must compile; every link to a file must resolve inside the
  repository; the README's first block is the install line and the test command `.ci/run` runs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kernel_support import nsrun, require_kernel
from netc.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES += [ROOT / "SECURITY.md"] if (ROOT / "SECURITY.md").exists() else []
VENV_BIN = Path(sys.executable).parent
FENCE = re.compile(r"^(`{3,})\s*(\S*)\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PUNCTUATION = {"|", "||", "&&", ";", "&", "(", ")"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with their info string."""
    found, current, fence = [], None, ""
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if current is None and match:
            current, fence, lang, start = [], match.group(1), match.group(2), number
        elif current is not None and line.strip() == fence:
            found.append(Block(page, start, lang, "".join(f"{x}\n" for x in current)))
            current = None
        elif current is not None:
            current.append(line)
    assert current is None, f"{page}: unclosed code block"
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def _of(lang: str) -> list[Block]:
    return [b for b in ALL_BLOCKS if b.lang == lang]


# -- console blocks: run and compared -------------------------------------------------------------


def console_steps(block: Block) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{block.where}: output before the first `$ command`"
            steps[-1][1].append(line)
    return steps


def matches(expected: list[str], actual: str) -> bool:
    pattern = "".join(
        r"(?:.*\n)*?" if line == "..." else re.escape(line) + r"\n" for line in expected
    )
    return re.fullmatch(pattern, actual if actual.endswith("\n") or not actual else actual + "\n")


def _copy(into: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis")
    return Path(shutil.copytree(ROOT, into / "repo", ignore=ignore, symlinks=True))


@pytest.mark.parametrize("block", _of("console"), ids=lambda b: b.where)
def test_console_block_output(block: Block, tmp_path: Path) -> None:
    assert shutil.which("netc", path=str(VENV_BIN)), f"no netc next to {sys.executable}"
    repo = _copy(tmp_path)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["COLUMNS"] = "100"
    for command, expected in console_steps(block):
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        shown = "".join(f"{line}\n" for line in expected)
        assert matches(
            expected, proc.stdout
        ), f"{block.where}: `$ {command}` printed\n{proc.stdout}\n--- the page shows ---\n{shown}"


# -- sh blocks: every netc command parses ---------------------------------------------------------


def netc_commands(text: str) -> list[list[str]]:
    """The argv of each `netc ...` command in shell text (pipelines, lists, comments allowed)."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        segment: list[str] = []
        redirected = False  # a redirection (`> out`, `2>&1`) ends the command's arguments
        for token in [*lexer, ";"]:
            if token in PUNCTUATION:
                if segment and (segment[0] == "netc" or segment[0].endswith("/netc")):
                    commands.append(segment[1:])
                segment, redirected = [], False
            elif set(token) <= set("<>&"):
                if not redirected and segment and segment[-1].isdigit():
                    segment.pop()  # the `2` of `2>&1`
                redirected = True
            elif not redirected:
                segment.append(token)
    return commands


SH_COMMANDS = [(b, argv) for b in _of("sh") for argv in netc_commands(b.text)]


def test_sh_blocks_hold_netc_commands() -> None:
    assert len(SH_COMMANDS) > 20  # the extraction itself works


@pytest.mark.parametrize(
    "block, argv", SH_COMMANDS, ids=[f"{b.where}:{' '.join(a)}" for b, a in SH_COMMANDS]
)
def test_sh_block_commands_parse(block: Block, argv: list[str], capsys) -> None:
    try:
        build_parser(argv).parse_args(argv)
    except SystemExit as done:
        assert done.code == 0, f"{block.where}: `netc {' '.join(argv)}`: {capsys.readouterr().err}"


def test_the_parser_check_catches_a_bad_command() -> None:
    (argv,) = netc_commands("netc compile x.net --target pf | nft -f -  # no such target\n")
    with pytest.raises(SystemExit):
        build_parser(argv).parse_args(argv)


# -- .net samples compile -------------------------------------------------------------------------

NET_BLOCKS = [b for b in ALL_BLOCKS if re.match(r"network \S+ \{", b.text)]


@pytest.mark.parametrize("block", NET_BLOCKS, ids=lambda b: b.where)
def test_net_samples_compile(block: Block, tmp_path: Path, capsys) -> None:
    path = tmp_path / "sample.net"
    path.write_text(block.text)
    assert main(["check", "-q", str(path)]) == 0, f"{block.where}: {capsys.readouterr().err}"


# -- links stay inside the repository -------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"(https?|mailto):", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"
    assert "../shared" not in text, f"{page.name}: names a path outside the repository"


# -- the README's first lines ---------------------------------------------------------------------


def test_readme_starts_with_install_and_test_lines() -> None:
    first = blocks(ROOT / "README.md")[0]
    install, test = first.text.splitlines()
    assert install.startswith("python3 -m venv .venv && ")
    assert install.endswith("netc compile examples/default.net --target nft")
    assert test.startswith(".venv/bin/python -m pytest")
    assert test in (ROOT / ".ci" / "run").read_text(), ".ci/run must run the README's tests"


# -- the recovery after loading the iptables text twice (docs/targets.md) --------------------------


def test_iptables_double_load_recovery_works(scratch_ns: str, tmp_path: Path) -> None:
    require_kernel()
    (script,) = [b.text for b in _of("sh") if "seen[$0]++" in b.text]
    default = ROOT / "examples" / "default.net"
    texts = {}
    for family in ("iptables", "ip6tables"):
        out = subprocess.run(
            [VENV_BIN / "netc", "compile", default, "--target", family],
            capture_output=True,
            text=True,
            check=True,
        )
        texts[family] = out.stdout
        for _ in range(2):
            nsrun(scratch_ns, f"{family}-restore", "--noflush", input=texts[family])
    remove = subprocess.run(
        [VENV_BIN / "netc", "compile", default, "--target", "iptables", "--remove"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    refused = subprocess.run(
        ["ip", "netns", "exec", scratch_ns, "iptables-restore", "--noflush"],
        input=remove,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0  # the case the docs explain
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["ip", "netns", "exec", scratch_ns, "bash", "-c", script],
        cwd=ROOT / "examples",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for family in ("iptables", "ip6tables"):
        assert "NETC_" not in nsrun(scratch_ns, f"{family}-save")
