"""Errors from the outside world, exit codes, output files and the rendering of diagnostics."""

from __future__ import annotations

import io
import os
import stat
import time

import pytest

from cli_run import assert_clean_outcome, run_cli
from netc.compiler import sources
from netc.compiler.recover import MAX_SYNTAX_ERRORS
from netc.compiler.validate import network_reference_problem
from netc.diagnostics import Diagnostic, render
from netc.ir.span import Span

GOOD = (
    "network default {\n    bridge virbr0\n    forward nat\n"
    "    ip 192.168.122.1/24 {\n        dhcp 192.168.122.2 - 192.168.122.254\n    }\n}\n"
)


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# -- files -------------------------------------------------------------------------------------


def test_missing_file(tmp_path, capsys):
    run = run_cli(["check", str(tmp_path / "nope.net")], capsys)
    assert run.code == 2 and run.err.startswith(f"{tmp_path}/nope.net: error: no such file")


def test_directory(tmp_path, capsys):
    run = run_cli(["compile", str(tmp_path)], capsys)
    assert run.code == 2 and "is a directory" in run.err and run.out == ""


def test_huge_file(tmp_path, capsys):
    path = tmp_path / "huge.net"
    with open(path, "wb") as handle:
        handle.truncate(sources.MAX_SOURCE_BYTES + 1)  # sparse: costs no disk
    run = run_cli(["check", str(path)], capsys)
    assert run.code == 2 and "larger than 8 MiB" in run.err


def test_huge_stdin(monkeypatch, capsys):
    _stdin(monkeypatch, b"#" * (sources.MAX_SOURCE_BYTES + 1))
    run = run_cli(["check", "-"], capsys)
    assert run.code == 2 and run.err.startswith("<stdin>: error: input is larger")


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    """Root reads through any permission bits, so as root the refusal is simulated."""
    path = tmp_path / "secret.net"
    path.write_text(GOOD)
    if os.geteuid() == 0:
        real_open = open

        def refuse(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", refuse)
    else:
        path.chmod(0)
    run = run_cli(["check", str(path)], capsys)
    assert run.code == 2 and run.err.startswith(f"{path}: error: permission denied")


def test_every_unreadable_file_is_reported(tmp_path, capsys):
    empty = tmp_path / "empty.net"
    empty.write_text("")
    run = run_cli(["check", str(tmp_path / "a.net"), str(empty), str(tmp_path)], capsys)
    assert run.code == 2
    assert [line for line in run.err.splitlines() if "error:" in line] == [
        f"{tmp_path}: error: is a directory, not a network file",
        f"{tmp_path}/a.net: error: no such file",
        f"{empty}: error: is empty",
    ]


def test_errors_in_several_files_are_reported_together(tmp_path, capsys):
    a, b = tmp_path / "a.net", tmp_path / "b.net"
    a.write_text(GOOD.replace("forward nat", "forward natt"))
    b.write_text(GOOD.replace("virbr0", "virbr1").replace("192.168.122.1/24", "10.0.0.0/24"))
    run = run_cli(["compile", str(a), str(b)], capsys)
    assert run.code == 2 and run.out == ""
    errors = [line for line in run.err.splitlines() if ": error: " in line]
    assert errors[0].startswith(f"{a}:3:13: error: unexpected 'natt'")
    assert errors[1].startswith(f"{b}:4:8: error: 10.0.0.0 is the network address")


def test_stdin_good(monkeypatch, capsys):
    _stdin(monkeypatch, GOOD.encode())
    run = run_cli(["compile", "-"], capsys)
    assert run.code == 0 and "table inet netc" in run.out


def test_stdin_error_shows_the_source_line(monkeypatch, capsys):
    _stdin(monkeypatch, GOOD.replace("forward nat", "forward natt").encode())
    run = run_cli(["check", "-"], capsys)
    assert run.code == 2
    assert run.err.splitlines()[:3] == [
        "<stdin>:3:13: error: unexpected 'natt'; expected a forward mode "
        "(nat, route, open or isolated)",
        "        forward natt",
        "                ^^^^",
    ]


def test_byte_order_mark_and_crlf_are_accepted(tmp_path, capsys):
    path = tmp_path / "windows.net"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert run_cli(["check", str(path)], capsys).code == 0


# -- exit codes --------------------------------------------------------------------------------


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["compile"], ["compile", "x.net", "-t", "pf"], ["frobnicate"]):
        run = run_cli(argv, capsys)
        assert run.code == 2 and run.out == "" and "error:" in run.err, argv


def test_internal_error_is_exit_3_without_traceback(tmp_path, capsys, monkeypatch):
    path = tmp_path / "ok.net"
    path.write_text(GOOD)

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("netc.commands.compile.emit", boom)
    run = run_cli(["compile", str(path)], capsys)
    assert run.code == 3 and run.out == ""
    assert run.err == "netc: internal error: RuntimeError: simulated bug\n"


# -- output files ------------------------------------------------------------------------------


def test_output_file_is_written_whole(tmp_path, capsys):
    src, out = tmp_path / "ok.net", tmp_path / "rules.nft"
    src.write_text(GOOD)
    run = run_cli(["compile", str(src), "-o", str(out)], capsys)
    assert run.code == 0 and run.out == "" and "table inet netc {" in out.read_text()
    assert sorted(os.listdir(tmp_path)) == ["ok.net", "rules.nft"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_output_file_keeps_its_mode_and_refuses_a_symlink(tmp_path, capsys):
    src, real, link = tmp_path / "ok.net", tmp_path / "real.nft", tmp_path / "link.nft"
    src.write_text(GOOD)
    real.write_text("old\n")
    real.chmod(0o640)
    assert run_cli(["compile", str(src), "-o", str(real)], capsys).code == 0
    assert "table inet netc" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    link.symlink_to(real)  # renaming over a link replaces the link; resolving it is a redirect
    refused = run_cli(["compile", str(src), "-o", str(link)], capsys)
    assert refused.code == 2 and "symbolic link" in refused.err
    assert link.is_symlink()


@pytest.mark.parametrize("where", ["missing/dir/out.nft", "."])
def test_unwritable_output_is_bad_usage(where, tmp_path, capsys):
    src = tmp_path / "ok.net"
    src.write_text(GOOD)
    run = run_cli(["compile", str(src), "-o", str(tmp_path / where)], capsys)
    assert run.code == 2 and run.out == "" and "cannot write output" in run.err
    assert_clean_outcome(run)
    assert sorted(os.listdir(tmp_path)) == ["ok.net"]


# -- rendering ---------------------------------------------------------------------------------


def test_rendering_escapes_terminal_control_text():
    d = Diagnostic("bad name '\x1b[2J'", Span("f.net", 1, 8, 1, 12), "hint \x07")
    text = render([d], {"f.net": "bridge \x1b[2J\n"})
    assert "\x1b" not in text and "\x07" not in text
    assert text.splitlines()[1:3] == ["    bridge ?[2J", "           ^^^^"]


def test_rendering_counts_lines_like_the_parser():
    """A form feed is whitespace to the grammar but a line break to str.splitlines."""
    source = "network a {\f bridge virbr0\n    brigde x\n}\n"
    d = Diagnostic("x", Span("f.net", 2, 5, 2, 11))
    assert render([d], {"f.net": source}).splitlines()[1:3] == [
        "        brigde x",
        "        ^^^^^^",
    ]


def test_long_lines_are_shown_as_a_window(tmp_path, capsys):
    path = tmp_path / "long.net"
    path.write_text("network a { bridge virbr0 " + "dns on " * 400 + "}\n")
    run = run_cli(["check", str(path)], capsys)
    assert run.code == 2
    assert all(len(line) < 200 for line in run.err.splitlines())


def test_syntax_errors_are_capped(tmp_path, capsys):
    path = tmp_path / "many.net"
    path.write_text("".join(f"network n{i} {{ brigde x }}\n" for i in range(100)))
    run = run_cli(["check", str(path)], capsys)
    errors = [line for line in run.err.splitlines() if ": error: " in line]
    assert len(errors) == MAX_SYNTAX_ERRORS + 1 and "too many syntax errors" in errors[-1]


def test_network_reference_suggests_a_declared_name(tmp_path, capsys):
    from netc.pipeline import compile_sources

    nets = compile_sources([("f.net", GOOD)]).program.networks
    span = Span("f.net", 9, 5, 9, 12)
    problem = network_reference_problem("defualt", span, nets)
    assert problem is not None and problem.message == "no network named 'defualt'"
    assert problem.hint == "did you mean 'default'?"
    assert network_reference_problem("default", span, nets) is None


def test_large_file_is_fast(tmp_path, capsys):
    path = tmp_path / "big.net"
    path.write_text(
        "".join(
            f"network n{i} {{ bridge br{i} forward nat ip 10.{i // 250}.{i % 250}.1/24 "
            f"{{ dhcp 10.{i // 250}.{i % 250}.2 - 10.{i // 250}.{i % 250}.9 }} }}\n"
            for i in range(1000)
        )
    )
    start = time.monotonic()
    run = run_cli(["check", str(path)], capsys)
    assert run.code == 0, run.err
    assert time.monotonic() - start < 10
