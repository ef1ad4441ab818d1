"""Finding and starting the IPAM plugin as libcni does on each platform (pkg/invoke):
CNI_PATH split at os.pathsep (Go's filepath.SplitList: quoted parts on Windows), each
directory tried with ExecutableFileExtensions (".exe" then "" on Windows, "" elsewhere),
posix_spawn where there is one and subprocess where there is none (Windows).

Windows cannot run here, so the lookup is tested as the pure functions it is built from,
given Windows' separator, extensions and path joining; the subprocess start is tested by
running real plugins with it on Linux."""

from __future__ import annotations

import json
import ntpath
import os
import posixpath
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfpnet.cni import errors, ipam

REFERENCE = Path("/usr/lib/cni")
WIN = (".exe", "")  # libcni's os_windows.go
UNIX = ("",)  # libcni's os_unix.go


@pytest.mark.parametrize(
    ("value", "sep", "quoted", "parts"),
    [
        (r"C:\k\cni\bin;D:\cni", ";", True, [r"C:\k\cni\bin", r"D:\cni"]),
        (r'"C:\Program Files;x\cni";D:\b', ";", True, [r"C:\Program Files;x\cni", r"D:\b"]),
        (r'C:\"my dir"\bin', ";", True, [r"C:\my dir\bin"]),
        (";;C:\\a;", ";", True, ["C:\\a"]),
        ("", ";", True, []),
        ("/opt/cni/bin::/usr/lib/cni", ":", False, ["/opt/cni/bin", "/usr/lib/cni"]),
        ('"/a":/b', ":", False, ['"/a"', "/b"]),
    ],
    ids=["windows", "windows-quoted-separator", "windows-quotes-dropped", "windows-empty-parts",
         "windows-empty", "linux", "linux-quotes-are-characters"],
)
def test_cni_path_is_split_at_the_platform_separator_as_go_splitlist_does(
    value: str, sep: str, quoted: bool, parts: list[str]
) -> None:
    assert ipam.split_path(value, sep, quoted) == parts


def test_this_platform_splits_at_its_path_separator_and_looks_for_bare_names() -> None:
    assert ipam.split_path(f"/opt/cni/bin{os.pathsep}/usr/lib/cni") == [
        "/opt/cni/bin", "/usr/lib/cni"]
    assert (ipam.WINDOWS, ipam.EXTENSIONS) == (False, UNIX)


def files(*present: str) -> Callable[[str], bool]:
    return set(present).__contains__


@pytest.mark.parametrize(
    ("name", "path", "extensions", "present", "found"),
    [
        ("host-local", [r"C:\k\cni"], WIN, [r"C:\k\cni\host-local.exe"],
         r"C:\k\cni\host-local.exe"),
        ("host-local", [r"C:\k\cni"], WIN, [r"C:\k\cni\host-local", r"C:\k\cni\host-local.exe"],
         r"C:\k\cni\host-local.exe"),
        ("host-local", [r"C:\a", r"C:\b"], WIN, [r"C:\a\host-local", r"C:\b\host-local.exe"],
         r"C:\a\host-local"),
        ("host-local.exe", [r"C:\k\cni"], WIN, [r"C:\k\cni\host-local.exe"],
         r"C:\k\cni\host-local.exe"),
        ("host-local", [r"C:\a", r"C:\b"], WIN, [r"C:\c\host-local.exe"], None),
        ("host-local", ["/opt/cni/bin"], UNIX, ["/opt/cni/bin/host-local.exe"], None),
        ("host-local", ["/a", "/b"], UNIX, ["/b/host-local"], "/b/host-local"),
    ],
    ids=["windows-exe", "windows-exe-before-bare-name", "windows-directory-before-extension",
         "windows-name-with-exe", "windows-absent", "linux-no-exe", "linux-second-directory"],
)
def test_the_plugin_is_the_first_directory_and_extension_that_holds_it(
    name: str, path: list[str], extensions: tuple[str, ...], present: list[str],
    found: str | None,
) -> None:
    join = ntpath.join if extensions == WIN else posixpath.join
    assert ipam.find_in_path(name, path, extensions, join, files(*present)) == found


@pytest.fixture
def tmp_bin(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "vtlookup"
    folder.mkdir()
    yield folder


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_directory_or_a_file_that_cannot_be_run_is_passed_over(tmp_bin: Path) -> None:
    (first, second, third) = (tmp_bin / "1", tmp_bin / "2", tmp_bin / "3")
    for d in (first, second, third):
        d.mkdir()
    (first / "static").mkdir()  # a directory named like the plugin
    (second / "static").write_text("not executable")
    executable(third / "static")

    assert ipam.find_plugin("static", [str(first), str(second), str(third)]) == str(
        third / "static")


def test_real_files_are_found_with_windows_extensions(tmp_bin: Path) -> None:
    executable(tmp_bin / "static.exe")

    assert ipam.find_in_path("static", [str(tmp_bin)], WIN) == str(tmp_bin / "static.exe")
    assert ipam.find_in_path("static", [str(tmp_bin)]) is None  # Linux wants the bare name


def test_an_empty_cni_path_is_an_environment_error_naming_it() -> None:
    with pytest.raises(errors.CniError) as caught:
        ipam.find_plugin("host-local", [])
    assert caught.value.code == errors.INVALID_ENVIRONMENT
    assert caught.value.msg.startswith("CNI_PATH: empty")


def test_a_plugin_not_found_is_a_config_error_listing_cni_path_with_its_separator(
    tmp_bin: Path,
) -> None:
    with pytest.raises(errors.CniError) as caught:
        ipam.find_plugin("nope", [str(tmp_bin), "/nonexistent"])
    assert caught.value.code == errors.INVALID_CONFIG
    assert caught.value.msg == (
        f"ipam.type: plugin 'nope' not found in CNI_PATH ({tmp_bin}{os.pathsep}/nonexistent)")


def test_the_version_cache_key_has_no_drive_colon_or_backslash_on_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_bin: Path,
) -> None:
    plugin = r"C:\k\cni\host-local.exe"
    linux = ipam._cache_path("/opt/cni/bin/host-local", str(tmp_bin))
    monkeypatch.setattr(ipam, "WINDOWS", True)

    assert os.path.basename(ipam._cache_path(plugin, str(tmp_bin))) == (
        "C%%k%cni%host-local.exe.versions")
    assert os.path.basename(linux) == "%opt%cni%bin%host-local.versions"


# -- starting the plugin -------------------------------------------------------------

SPAWNS = {"posix_spawn": (ipam._spawn_posix, ipam._reap_posix),
          "subprocess": (ipam._spawn_subprocess, ipam._reap_subprocess)}


@pytest.fixture(params=sorted(SPAWNS))
def spawn(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    start, reap = SPAWNS[request.param]
    monkeypatch.setattr(ipam, "_spawn", start)
    monkeypatch.setattr(ipam, "_reap", reap)
    return str(request.param)


def cni_env(tmp_bin: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update({"CNI_CONTAINERID": "vtc1", "CNI_NETNS": "/var/run/netns/vtnone",
                "CNI_IFNAME": "eth0", "CNI_PATH": str(tmp_bin)})
    return env


@pytest.mark.skipif(not (REFERENCE / "static").exists(),
                    reason="Debian's reference IPAM plugins are not installed")
def test_either_start_gets_the_real_static_plugins_answer(spawn: str, tmp_bin: Path) -> None:
    conf = {"cniVersion": "1.0.0", "name": "vtnet", "ipam": {
        "type": "static", "addresses": [{"address": "10.240.0.9/24", "gateway": "10.240.0.1"}],
        "dns": {"nameservers": ["10.0.0.10"]}}}
    call = ipam.IpamCall(str(REFERENCE / "static"), "ADD", json.dumps(conf).encode(),
                         cni_env(tmp_bin))

    assert call.result() == {"interfaces": [], "routes": [], "dns": {
        "nameservers": ["10.0.0.10"]}, "ips": [{"address": "10.240.0.9/24",
                                                "gateway": "10.240.0.1"}]}


def test_either_start_survives_a_plugin_that_answers_without_reading_stdin(
    spawn: str, tmp_bin: Path,
) -> None:
    plugin = executable(tmp_bin / "early", "#!/bin/sh\necho '{\"ips\": "
                        "[{\"address\": \"10.1.2.3/24\"}]}'\n")
    big = json.dumps({"cniVersion": "1.0.0", "pad": "x" * 1_000_000}).encode()
    call = ipam.IpamCall(str(plugin), "ADD", big, cni_env(tmp_bin))

    assert call.result()["ips"] == [{"address": "10.1.2.3/24"}]


def test_either_start_reports_the_exit_status_and_the_plugins_error(
    spawn: str, tmp_bin: Path,
) -> None:
    plugin = executable(tmp_bin / "fails", "#!/bin/sh\ncat >/dev/null\necho "
                        "'{\"code\": 11, \"msg\": \"no addresses left\"}'\nexit 1\n")
    call = ipam.IpamCall(str(plugin), "ADD", b"{}", cni_env(tmp_bin))

    with pytest.raises(errors.CniError) as caught:
        call.result()
    assert (caught.value.code, caught.value.msg) == (11, "ipam (fails) ADD: no addresses left")


def test_either_start_refuses_a_plugin_that_cannot_run_naming_it(
    spawn: str, tmp_bin: Path,
) -> None:
    plugin = tmp_bin / "broken"
    plugin.write_text("#!/nonexistent/interpreter\n")
    plugin.chmod(0o755)
    fds = len(os.listdir("/proc/self/fd"))

    with pytest.raises(errors.CniError) as caught:
        ipam.IpamCall(str(plugin), "ADD", b"{}", cni_env(tmp_bin))
    assert caught.value.code == errors.IPAM_FAILED
    assert caught.value.msg.startswith(f"ipam.type: cannot run {plugin}: ")
    assert len(os.listdir("/proc/self/fd")) == fds  # no pipe left open


def test_importing_the_ipam_module_on_linux_imports_no_subprocess() -> None:
    code = ("import sys; before = set(sys.modules); import vfpnet.cni.ipam; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    new = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()

    assert "vfpnet.cni.ipam" in new
    assert not {"subprocess", "signal", "threading", "selectors"} & set(new)
