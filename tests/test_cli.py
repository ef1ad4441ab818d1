"""The `vfpnet` command as a user first meets it."""

import os
import subprocess
import sys


def run_vfpnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "vfpnet", *args], capture_output=True, text=True, env=full_env
    )


def test_help_names_the_commands_and_exits_zero() -> None:
    res = run_vfpnet("--help")
    assert res.returncode == 0
    assert "CNI_COMMAND" in res.stdout


def test_no_command_prints_usage_and_exits_two() -> None:
    res = run_vfpnet()
    assert res.returncode == 2
    assert "usage" in res.stderr
    assert res.stdout == ""


def test_usage_mistake_of_a_subcommand_is_one_line_with_exit_two() -> None:
    res = run_vfpnet("reach")
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1
    assert "-f/--file" in res.stderr and "--help" in res.stderr
