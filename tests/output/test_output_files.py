"""`-o FILE`: what cannot be written there is refused before any work (exit 2, one line, the
fix); writes are atomic and keep the file's mode; disk and permission errors are one line too;
an HTML document is not printed to a terminal."""

from __future__ import annotations

import errno
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT
from infersim.cli.app import app

SMALL = str(ROOT / "tests" / "scenarios" / "cli-small.yaml")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infersim", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )


def one_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_a_device_node_is_refused_and_left_alone() -> None:
    before = Path("/dev/null").stat()
    one_line(cli("run", SMALL, "-o", "/dev/null"), "is a character device, not a regular file")
    after = Path("/dev/null").stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_fifo_is_refused_before_the_run(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = cli("run", SMALL, "-o", str(fifo))
    one_line(done, "is a named pipe (FIFO), not a regular file", "leave out -o")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO, and nothing ran (no output)


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("kept", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    one_line(cli("catalog", "gpus", "-o", str(link)), "is a symbolic link", str(target))
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "kept"


def test_a_read_only_file_is_refused_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("kept", encoding="utf-8")
    target.chmod(0o444)
    one_line(cli("catalog", "gpus", "-f", "csv", "-o", str(target)), "read-only", "chmod u+w")
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    assert target.read_text(encoding="utf-8") == "kept"


def test_check_refuses_a_read_only_junit_file_before_running(tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    junit.write_text("", encoding="utf-8")
    junit.chmod(0o400)
    done = cli("check", SMALL, "--junit", str(junit))
    one_line(done, f"--junit {junit}: the file is read-only")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only directory")
def test_a_read_only_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        one_line(cli("run", SMALL, "-o", str(locked / "out.json")), "permission denied")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_a_replaced_file_keeps_its_mode(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "gpus.csv"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    result = runner.invoke(app, ["catalog", "gpus", "-f", "csv", "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text(encoding="utf-8").startswith("id,name,")


def test_a_full_disk_is_one_line_and_leaves_the_old_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while the temporary file is written: the old file stays whole."""
    target = tmp_path / "gpus.csv"
    target.write_text("previous", encoding="utf-8")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("infersim.cli.common.os.fsync", full)
    result = runner.invoke(app, ["catalog", "gpus", "-f", "csv", "-o", str(target)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the disk is full" in lines[0] and "nothing was written" in lines[0]
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["gpus.csv"]  # no temporary left


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """Run infersim with stdout on a pseudo-terminal; its exit code and stderr."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "infersim", *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    return done.returncode, done.stderr


def test_html_to_a_terminal_is_refused_with_the_fix() -> None:
    pytest.importorskip("matplotlib")
    code, err = _on_a_terminal("run", SMALL, "-f", "html")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "--format html writes a whole document" in lines[0] and "-o report.html" in lines[0]
    assert "ran" not in err  # refused before the run


def test_html_through_a_pipe_is_allowed_and_table_on_a_terminal_is_not_refused() -> None:
    code, err = _on_a_terminal("catalog", "gpus")
    assert code == 0, err
