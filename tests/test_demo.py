"""`make demo`'s main job runs offline, pauses for approval and answers it from stdin or --yes."""

from __future__ import annotations

import subprocess
import sys

PROMPT = "[a]pprove / [r]eject / re[v]ise?"


def demo(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowai_nb.demo", *args], input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None,
                          capture_output=True, text=True, timeout=180)


def dispatched(out: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in out.stdout.splitlines() if line.startswith("dispatched "))


def test_without_an_answer_on_stdin_it_approves_and_says_so() -> None:
    out = demo()
    assert out.returncode == 0, out.stderr
    assert "approval required: plan lisbon-restock@v1" in out.stdout
    assert "no answer available on stdin: approving on your behalf" in out.stdout
    assert "--yes skips the prompt" in out.stdout
    assert "■ run completed" in out.stdout
    assert dispatched(out).startswith("dispatched 3 action(s)")
    assert out.stdout.index("approval required") < out.stdout.index("executing")


def test_yes_approves_without_a_prompt() -> None:
    out = demo("--yes")
    assert out.returncode == 0, out.stderr
    assert PROMPT not in out.stdout
    assert "--yes: approved without asking" in out.stdout
    assert dispatched(out).startswith("dispatched 3 action(s)")


def test_reject_from_stdin_dispatches_nothing() -> None:
    out = demo(stdin="r\nnot now\n")
    assert out.returncode == 0, out.stderr
    assert "plan lisbon-restock@v1: rejected" in out.stdout
    assert "not now" in out.stdout
    assert dispatched(out) == "dispatched 0 action(s): none"


def test_unknown_answer_is_asked_again() -> None:
    out = demo(stdin="x\na\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(PROMPT) == 2
    assert "'x' is not an answer" in out.stdout
    assert "plan lisbon-restock@v1: approved" in out.stdout
    assert dispatched(out).startswith("dispatched 3 action(s)")


def test_no_valid_answer_after_three_tries_exits_with_an_error() -> None:
    out = demo(stdin="x\ny\nz\na\n")
    assert out.returncode == 2
    assert "no valid answer after 3 tries" in out.stderr
    assert "dispatched" not in out.stdout


def test_revise_sends_the_plan_back_and_says_it_awaits_another_run() -> None:
    out = demo(stdin="v\nsmaller orders\n")
    assert out.returncode == 0, out.stderr
    assert "lisbon-restock@v2" in out.stdout and "awaits another run" in out.stdout
    assert "■ run completed" in out.stdout
    assert dispatched(out) == "dispatched 0 action(s): none"


def test_flowai_nb_demo_command_accepts_yes() -> None:
    out = subprocess.run([sys.executable, "-m", "flowai_nb.cli", "demo", "--yes"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "--yes: approved without asking" in out.stdout
