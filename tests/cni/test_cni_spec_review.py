"""The plugin against CNI spec 1.1 and how libcni, skel and the reference plugins behave.

Each test pins one rule found in SPEC.md, libcni (pkg/invoke, pkg/types/*, pkg/version)
or the reference plugins' skel, driven as a runtime drives the executable: environment,
stdin, exit status and stdout. Everything runs inside the lab's node namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from netlab import CNI_PATH, VFPNET, Lab, in_ns, needs_root, pod_ip

from vfpnet.cni import errors
from vfpnet.cni.result import normalize, render

pytestmark = needs_root
SUBNET_OCTET = 104


def run(lab: Lab, env: dict[str, str], conf: object,
        binary: str = VFPNET) -> tuple[int, str, dict[str, object]]:
    """A plugin in the node with exactly `env` (plus PATH): (status, raw stdout, parsed)."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    full.update(env)
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    res = subprocess.run(["ip", "netns", "exec", lab.node, binary], input=stdin,
                         capture_output=True, text=True, env=full, timeout=60)
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    return res.returncode, res.stdout, json.loads(res.stdout) if res.stdout.strip() else {}


def env_for(command: str, cid: str = "c1", netns: str = "/var/run/netns/none",
            **extra: str) -> dict[str, str]:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
           "CNI_IFNAME": "eth0", "CNI_PATH": CNI_PATH, "CNI_ARGS": "IgnoreUnknown=1"}
    env.update(extra)
    return {k: v for k, v in env.items() if v != "<unset>"}


def leaves_nothing(lab: Lab) -> None:
    lab.assert_clean()


# -- VERSION -------------------------------------------------------------------------

@pytest.mark.parametrize("stdin", ['{"cniVersion": "1.1.0"}', "{not json", "",
                                   '{"cniVersion": "1.1.0", "name": "bad name", "mode": 5}'])
def test_version_answers_whatever_the_environment_and_config_hold(lab: Lab, stdin: str) -> None:
    # libcni's GetVersionInfo: CNI_CONTAINERID="", CNI_NETNS/IFNAME/PATH="dummy"
    env = {"CNI_COMMAND": "VERSION", "CNI_CONTAINERID": "", "CNI_NETNS": "dummy",
           "CNI_IFNAME": "dummy", "CNI_PATH": "dummy", "CNI_ARGS": "not-a-pair;x"}
    rc, _, out = run(lab, env, stdin)
    assert rc == 0, out
    assert out["supportedVersions"] == ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                        "1.1.0"]
    assert out["cniVersion"] == "1.1.0"


# -- required environment per command (spec section 2, skel) -------------------------

@pytest.mark.parametrize(("command", "missing"), [
    ("ADD", "CNI_CONTAINERID"), ("ADD", "CNI_NETNS"), ("ADD", "CNI_IFNAME"),
    ("CHECK", "CNI_CONTAINERID"), ("CHECK", "CNI_NETNS"), ("CHECK", "CNI_IFNAME"),
    ("DEL", "CNI_CONTAINERID"), ("DEL", "CNI_IFNAME"), ("GC", "CNI_PATH"),
])
def test_a_missing_required_variable_is_code_4_naming_it(lab: Lab, command: str,
                                                         missing: str) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, _, out = run(lab, env_for(command, **{missing: "<unset>"}), conf)
    assert rc == 1 and out["code"] == errors.INVALID_ENVIRONMENT, out
    assert missing in str(out["msg"])


def test_del_without_cni_netns_succeeds_and_prints_nothing(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, stdout, _ = run(lab, env_for("DEL", "nonetns", CNI_NETNS="<unset>"), conf)
    assert rc == 0 and stdout == ""


def test_status_and_gc_need_no_attachment_variables(lab: Lab) -> None:
    conf = dict(lab.netconf("transparent", cniVersion="1.1.0"),
                **{"cni.dev/valid-attachments": []})
    # libcni's GC and STATUS: every attachment variable empty
    empty = {"CNI_CONTAINERID": "", "CNI_NETNS": "", "CNI_IFNAME": "", "CNI_ARGS": ""}
    for command in ("STATUS", "GC"):
        rc, stdout, _ = run(lab, env_for(command, **empty), conf)
        assert rc == 0 and stdout == "", (command, stdout)


def test_add_with_an_ipam_section_and_no_cni_path_is_code_4_naming_cni_path(lab: Lab) -> None:
    pod = lab.pod()
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, _, out = run(lab, env_for("ADD", "nopath", f"/var/run/netns/{pod}", CNI_PATH=""), conf)
    assert rc == 1 and out["code"] == errors.INVALID_ENVIRONMENT and "CNI_PATH" in out["msg"]
    leaves_nothing(lab)


def test_the_plugins_own_namespace_as_cni_netns_is_refused(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, _, out = run(lab, env_for("ADD", "ownns", f"/var/run/netns/{lab.node}"), conf)
    assert rc == 1 and out["code"] == errors.INVALID_ENVIRONMENT, out
    assert str(out["msg"]).startswith("CNI_NETNS")
    assert "eth0" not in in_ns(lab.node, "ip", "-o", "link", "show").stdout
    leaves_nothing(lab)


# -- CNI_ARGS as skel's LoadArgs reads it ---------------------------------------------

@pytest.mark.parametrize(("cni_args", "named"), [
    ("K8S_POD_NAME=p;FOO=bar", "FOO"),
    ("mac=c2:11:22:33:44:55", "mac"),  # keys are case-sensitive, as in LoadArgs
    ("IgnoreUnknown=0;FOO=bar", "FOO"),
    ("IgnoreUnknown=maybe", "IgnoreUnknown"),
    ("IgnoreUnknown=1;K8S_POD_NAME", "K8S_POD_NAME"),
])
def test_cni_args_vfpnet_cannot_act_on_are_refused_without_ignore_unknown(
        lab: Lab, cni_args: str, named: str) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, _, out = run(lab, env_for("ADD", "args", CNI_ARGS=cni_args), conf)
    assert rc == 1 and out["code"] == errors.INVALID_ENVIRONMENT, out
    assert "CNI_ARGS" in str(out["msg"]) and named in str(out["msg"])
    rc, stdout, _ = run(lab, env_for("DEL", "args", CNI_ARGS=cni_args), conf)
    assert rc == 0 and stdout == ""  # the DEL that follows the refused ADD


def test_unknown_cni_args_are_ignored_with_ignore_unknown_and_ip_reaches_ipam(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    pod = lab.pod()
    wanted = f"10.244.{SUBNET_OCTET}.77"
    cni_args = (f"IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p;FOO=bar;"
                f"MAC=c2:11:22:33:44:55;IP={wanted}")
    rc, _, out = run(lab, env_for("ADD", "ignored", f"/var/run/netns/{pod}",
                                  CNI_ARGS=cni_args), conf)
    try:
        assert rc == 0, out
        assert pod_ip(out) == wanted
    finally:
        lab.delete(conf, "ignored", pod)
    leaves_nothing(lab)


# -- runtimeConfig capabilities -------------------------------------------------------

def test_runtime_config_ips_are_handed_to_ipam_and_empty_port_mappings_ask_nothing(
        lab: Lab) -> None:
    wanted = f"10.244.{SUBNET_OCTET}.88"
    conf = lab.netconf("transparent", cniVersion="1.1.0",
                       capabilities={"ips": True, "portMappings": True},
                       runtimeConfig={"ips": [f"{wanted}/24"], "portMappings": []})
    pod = lab.pod()
    result = lab.add(conf, "rtips", pod)
    try:
        assert pod_ip(result) == wanted
    finally:
        lab.delete(conf, "rtips", pod)
    leaves_nothing(lab)


def test_the_mac_capability_sets_the_pod_mac_and_a_bad_one_is_code_7(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0", capabilities={"mac": True},
                       runtimeConfig={"mac": "c2:11:22:33:44:55"})
    pod = lab.pod()
    result = lab.add(conf, "caps", pod)
    try:
        assert result["interfaces"][1]["mac"] == "c2:11:22:33:44:55"  # type: ignore[index]
    finally:
        lab.delete(conf, "caps", pod)
    rc, out = lab.run("ADD", dict(conf, runtimeConfig={"mac": "zz"}), "caps", pod)
    assert rc == 1 and out is not None and out["code"] == errors.INVALID_CONFIG, out
    assert str(out["msg"]).startswith('runtimeConfig.mac: "zz" is not a MAC address')
    lab.delete(conf, "caps", pod)
    leaves_nothing(lab)


def test_capabilities_for_other_plugins_of_the_chain_are_ignored(lab: Lab) -> None:
    caps = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
            "bandwidth": {"ingressRate": 2048, "ingressBurst": 1600},
            "aliases": {"net": ["web"]}, "ipRanges": []}
    conf = lab.netconf("transparent", cniVersion="1.1.0",
                       capabilities={k: True for k in caps}, runtimeConfig=caps)
    pod = lab.pod()
    lab.add(conf, "othercaps", pod)
    lab.delete(conf, "othercaps", pod)
    leaves_nothing(lab)


def test_unknown_netconf_keys_and_args_are_ignored(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0", ipMasq=True, disableCheck=False,
                       cniVersions=["1.0.0", "1.1.0"], someVendorKey={"x": [1, 2]},
                       args={"cni": {"labels": [{"key": "app", "value": "a"}]}},
                       runtimeConfig={"io.kubernetes.cri.pod-annotations": {"a": "b"},
                                      "cgroupPath": "/kubepods/x"})
    pod = lab.pod()
    lab.add(conf, "unknownkeys", pod)
    lab.delete(conf, "unknownkeys", pod)
    leaves_nothing(lab)


# -- netconf validation and the DEL after a refused ADD --------------------------------

@pytest.mark.parametrize("name", ["my net", "-net", "net/1", ".net"])
def test_a_network_name_outside_the_spec_alphabet_is_code_7(lab: Lab, name: str) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0", name=name)
    rc, _, out = run(lab, env_for("ADD"), conf)
    assert rc == 1 and out["code"] == errors.INVALID_CONFIG and "name" in str(out["msg"])


@pytest.mark.parametrize("bad", [
    {"mode": "overlay"}, {"gateway": "10.0.0.300"}, {"tunnel": {"table": 254}},
    {"bridge": "a-name-far-too-long"}, {"backend": "bsd"}, {"ipam": {"type": "../sh"}},
    {"ipam": {"type": "no-such-ipam"}}, {"dns": "8.8.8.8"},
    {"runtimeConfig": {"mac": "c3:11:22:33:44:55"}},
])
def test_del_after_an_add_refused_for_a_bad_field_succeeds(lab: Lab,
                                                           bad: dict[str, object]) -> None:
    conf = dict(lab.netconf("transparent", cniVersion="1.1.0"), **bad)
    pod = lab.pod()
    rc, _, out = run(lab, env_for("ADD", "refused", f"/var/run/netns/{pod}"), conf)
    assert rc == 1 and out["code"] in (errors.INVALID_CONFIG, errors.UNSUPPORTED_FIELD), out
    rc, stdout, out = run(lab, env_for("DEL", "refused", f"/var/run/netns/{pod}"), conf)
    assert rc == 0 and stdout == "", out
    leaves_nothing(lab)


def test_del_of_an_unknown_attachment_without_cni_path_succeeds(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, stdout, out = run(lab, env_for("DEL", "neverseen", CNI_PATH="<unset>"), conf)
    assert rc == 0 and stdout == "", out


# -- cniVersion -----------------------------------------------------------------------

@pytest.mark.parametrize(("given", "answered"), [(None, "0.1.0"), ("", "0.1.0"),
                                                 ("0.1.0", "0.1.0"), ("0.2.0", "0.2.0")])
def test_an_old_or_missing_cni_version_gets_the_ip4_result_shape(
        lab: Lab, given: str | None, answered: str) -> None:
    conf = lab.netconf("transparent")
    if given is None:
        del conf["cniVersion"]
    else:
        conf["cniVersion"] = given
    pod = lab.pod()
    result = lab.add(conf, "old" + answered.replace(".", ""), pod)
    try:
        assert result["cniVersion"] == answered
        assert set(result) == {"cniVersion", "ip4", "dns"}, result
        ip4 = result["ip4"]
        assert isinstance(ip4, dict)
        assert str(ip4["ip"]).startswith(f"10.244.{SUBNET_OCTET}.")
        assert all(set(r) <= {"dst", "gw"} for r in ip4.get("routes", []))
    finally:
        lab.delete(conf, "old" + answered.replace(".", ""), pod)
    leaves_nothing(lab)


def test_an_error_for_a_netconf_without_a_version_is_a_0_1_0_error(lab: Lab) -> None:
    conf = lab.netconf("hairpin")
    del conf["cniVersion"]
    rc, out = lab.run("ADD", conf, "noversion-bad", lab.pod())
    assert rc == 1 and out is not None
    assert out["cniVersion"] == "0.1.0" and out["code"] == 7 and "mode" in str(out["msg"])
    leaves_nothing(lab)


@pytest.mark.parametrize(("command", "version"), [("GC", "1.0.0"), ("STATUS", "0.4.0"),
                                                  ("CHECK", "0.3.1")])
def test_a_command_newer_than_the_config_version_is_code_1(lab: Lab, command: str,
                                                           version: str) -> None:
    conf = lab.netconf("transparent", cniVersion=version)
    rc, _, out = run(lab, env_for(command), conf)
    assert rc == 1 and out["code"] == errors.INCOMPATIBLE_VERSION, out


# -- GC -------------------------------------------------------------------------------

def test_gc_honours_the_attachments_key_that_libcni_also_sends(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    pods = [lab.pod(), lab.pod()]
    for i, pod in enumerate(pods):
        lab.add(conf, f"gcold{i}", pod)
    gc_conf = dict(conf, **{"cni.dev/attachments": [{"containerID": "gcold1",
                                                      "ifname": "eth0"}]})
    rc, stdout, out = run(lab, env_for("GC", "", "", CNI_IFNAME=""), gc_conf)
    assert rc == 0 and stdout == "", out
    assert [p.name for p in lab.state_dir.rglob("*.json")] == ["gcold1:eth0.json"]
    lab.delete(conf, "gcold1", pods[1])
    leaves_nothing(lab)


# -- results: DNS, stdout, CHECK -----------------------------------------------------

def test_dns_comes_from_the_netconf_else_from_ipam(lab: Lab, tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.96.0.10\nsearch svc.cluster.local\n")
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    conf["ipam"] = dict(conf["ipam"], resolvConf=str(resolv))  # type: ignore[arg-type]
    pod = lab.pod()
    result = lab.add(conf, "dnsipam", pod)
    lab.delete(conf, "dnsipam", pod)
    assert result["dns"] == {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]}
    conf["dns"] = {"nameservers": ["10.0.0.53"], "domain": "example.org"}
    result = lab.add(conf, "dnsconf", pod)
    lab.delete(conf, "dnsconf", pod)
    assert result["dns"] == {"nameservers": ["10.0.0.53"], "domain": "example.org"}
    del conf["dns"], conf["ipam"]["resolvConf"]  # type: ignore[attr-defined]
    result = lab.add(conf, "nodns", pod)
    lab.delete(conf, "nodns", pod)
    assert "dns" not in result  # libcni leaves an empty dns out of a 1.x result
    leaves_nothing(lab)


def test_stdout_is_one_json_object_for_add_and_empty_for_the_rest(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    pod = lab.pod()
    netns = f"/var/run/netns/{pod}"
    rc, stdout, result = run(lab, env_for("ADD", "quiet", netns), conf)
    assert rc == 0 and stdout.endswith("}\n") and stdout.count("\n") == 1
    assert json.loads(stdout) == result
    for command, extra in (("CHECK", {"prevResult": result}), ("STATUS", {}),
                           ("GC", {"cni.dev/valid-attachments": [
                               {"containerID": "quiet", "ifname": "eth0"}]}),
                           ("DEL", {"prevResult": result}), ("DEL", {})):
        rc, stdout, out = run(lab, env_for(command, "quiet", netns), dict(conf, **extra))
        assert rc == 0 and stdout == "", (command, out)
    leaves_nothing(lab)


def test_check_reports_a_prev_result_without_the_containers_interface(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    pod = lab.pod()
    result = lab.add(conf, "chkif", pod)
    try:
        other = dict(result, interfaces=[dict(i, name="net9") if i.get("sandbox") else i
                                         for i in result["interfaces"]])  # type: ignore[attr-defined]
        rc, out = lab.run("CHECK", dict(conf, prevResult=other), "chkif", pod)
        assert rc == 1 and out is not None and out["code"] == errors.CHECK_DRIFT
        assert "prevResult.interfaces" in str(out["msg"])
    finally:
        lab.delete(conf, "chkif", pod)
    leaves_nothing(lab)


# -- result conversion, as libcni's types/100, 040 and 020 converters ----------------

INTERNAL: dict[str, object] = {
    "interfaces": [{"name": "vfp1", "mac": "aa:bb:cc:dd:ee:01"},
                   {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/run/netns/p"}],
    "ips": [{"address": "10.1.0.5/32", "gateway": "169.254.1.1", "interface": 1},
            {"address": "fd00::5/128", "gateway": "fe80::1", "interface": 1},
            {"address": "10.1.0.6/32", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "169.254.1.1", "mtu": 1400},
               {"dst": "::/0", "gw": "fe80::1"}],
}


def test_results_render_per_version_as_libcni_converts_them() -> None:
    assert render(INTERNAL, "1.1.0") == {"cniVersion": "1.1.0", **INTERNAL}
    assert render(INTERNAL, "1.0.0") == {"cniVersion": "1.0.0", **INTERNAL}
    for version in ("0.4.0", "0.3.1", "0.3.0"):
        out = render(INTERNAL, version)
        assert out["cniVersion"] == version and out["dns"] == {}
        assert [ip["version"] for ip in out["ips"]] == ["4", "6", "4"]  # type: ignore[attr-defined]
        assert out["routes"] == INTERNAL["routes"]  # libcni's Route keeps mtu in 0.x too
    for version in ("0.2.0", "0.1.0"):
        assert render(INTERNAL, version) == {
            "cniVersion": version,
            "ip4": {"ip": "10.1.0.5/32", "gateway": "169.254.1.1",
                    "routes": [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}]},
            "ip6": {"ip": "fd00::5/128", "gateway": "fe80::1",
                    "routes": [{"dst": "::/0", "gw": "fe80::1"}]},
            "dns": {},
        }


def test_a_0_2_0_ipam_answer_reads_as_ips_and_routes() -> None:
    answer = {"cniVersion": "0.2.0", "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1",
                                             "routes": [{"dst": "0.0.0.0/0"}]},
              "dns": {"nameservers": ["10.1.0.1"]}}
    assert normalize(answer, "ipam") == {
        "interfaces": [], "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
        "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.1.0.1"]}}
    with pytest.raises(errors.CniError) as info:
        normalize({"ip4": {"gateway": "10.1.0.1"}}, "ipam")
    assert info.value.code == errors.DECODE_FAILURE and "ipam.ip4.ip" in info.value.msg


# -- delegation -----------------------------------------------------------------------

def test_a_failed_ipam_add_is_followed_by_its_del_and_its_code_passes_through(lab: Lab) -> None:
    bin_dir = lab.tmp / "failbin"
    bin_dir.mkdir(exist_ok=True)
    log = lab.tmp / "fail-ipam.log"
    script = bin_dir / "fail-ipam"
    script.write_text(f'#!/bin/sh\necho "$CNI_COMMAND" >> {log}\ncat > /dev/null\n'
                      '[ "$CNI_COMMAND" = ADD ] || exit 0\n'
                      'echo \'{"cniVersion":"1.1.0","code":11,"msg":"pool busy"}\'\nexit 1\n')
    script.chmod(0o755)
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    conf["ipam"] = {"type": "fail-ipam"}
    pod = lab.pod()
    rc, out = lab.run("ADD", conf, "ipamfail", pod, CNI_PATH=str(bin_dir))
    assert rc == 1 and out is not None and out["code"] == errors.TRY_AGAIN_LATER, out
    assert "pool busy" in str(out["msg"])
    assert log.read_text().split() == ["ADD", "DEL"]
    lab.delete(conf, "ipamfail", pod)
    leaves_nothing(lab)


# -- a libcni-like runtime driving whole conflists ----------------------------------

class Runtime:
    """What libcni's AddNetworkList/CheckNetworkList/DelNetworkList/GCNetworkList/
    GetStatusNetworkList do with a conflist: per plugin, `name` and `cniVersion` injected,
    `runtimeConfig` from declared capabilities, `prevResult` chained on ADD and the cached
    final result on CHECK and (from 0.4.0) DEL, plugins in reverse for DEL."""

    def __init__(self, lab: Lab, conflist: dict[str, object]) -> None:
        self.lab = lab
        self.conflist = conflist
        self.bin_dir = lab.tmp / "cnibin"
        self.bin_dir.mkdir(exist_ok=True)
        for plugin in conflist["plugins"]:  # type: ignore[attr-defined]
            link = self.bin_dir / plugin["type"]
            if not link.exists():
                link.symlink_to(VFPNET if plugin["type"] == "vfpnet"
                                else f"{CNI_PATH}/{plugin['type']}")
        for ipam in ("host-local",):
            if not (self.bin_dir / ipam).exists():
                (self.bin_dir / ipam).symlink_to(f"{CNI_PATH}/{ipam}")
        self.cache: dict[str, dict[str, object]] = {}

    @property
    def version(self) -> str:
        return str(self.conflist["cniVersion"])

    def _conf(self, plugin: dict[str, object], prev: dict[str, object] | None,
              caps: dict[str, object], extra: dict[str, object] | None = None
              ) -> dict[str, object]:
        conf = dict(plugin, name=self.conflist["name"], cniVersion=self.version)
        if prev is not None:
            conf["prevResult"] = prev
        declared = plugin.get("capabilities") or {}
        runtime = {k: v for k, v in caps.items() if declared.get(k)}  # type: ignore[attr-defined]
        if runtime:
            conf["runtimeConfig"] = runtime
        conf.update(extra or {})
        return conf

    def _exec(self, plugin: dict[str, object], command: str, conf: dict[str, object],
              cid: str = "", netns: str = "", cni_args: str = "") -> dict[str, object]:
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
               "CNI_ARGS": cni_args, "CNI_IFNAME": "eth0" if cid else "",
               "CNI_PATH": str(self.bin_dir)}
        rc, stdout, out = run(self.lab, env, conf, str(self.bin_dir / str(plugin["type"])))
        assert rc == 0, f"{plugin['type']} {command}: {out}"
        if command != "ADD":
            assert stdout == "", f"{plugin['type']} {command} printed {stdout!r}"
        return out

    def add(self, cid: str, pod: str, caps: dict[str, object]) -> dict[str, object]:
        result: dict[str, object] | None = None
        for plugin in self.conflist["plugins"]:  # type: ignore[attr-defined]
            conf = self._conf(plugin, result, caps)
            result = self._exec(plugin, "ADD", conf, cid, f"/var/run/netns/{pod}",
                                f"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME={cid}")
            assert result["cniVersion"] == self.version
        assert result is not None
        self.cache[cid] = result
        return result

    def check(self, cid: str, pod: str, caps: dict[str, object]) -> None:
        for plugin in self.conflist["plugins"]:  # type: ignore[attr-defined]
            self._exec(plugin, "CHECK", self._conf(plugin, self.cache[cid], caps), cid,
                       f"/var/run/netns/{pod}", "IgnoreUnknown=1")

    def delete(self, cid: str, pod: str | None, caps: dict[str, object]) -> None:
        cached = self.cache.pop(cid, None) if self.version >= "0.4.0" else None
        for plugin in reversed(self.conflist["plugins"]):  # type: ignore[call-overload]
            self._exec(plugin, "DEL", self._conf(plugin, cached, caps), cid,
                       f"/var/run/netns/{pod}" if pod else "", "IgnoreUnknown=1")

    def gc(self, valid: list[str]) -> None:
        attachments = [{"containerID": cid, "ifname": "eth0"} for cid in valid]
        for plugin in self.conflist["plugins"]:  # type: ignore[attr-defined]
            self._exec(plugin, "GC", dict(plugin, name=self.conflist["name"],
                                          cniVersion=self.version,
                                          **{"cni.dev/valid-attachments": attachments,
                                             "cni.dev/attachments": attachments}))

    def status(self) -> None:
        for plugin in self.conflist["plugins"]:  # type: ignore[attr-defined]
            self._exec(plugin, "STATUS", dict(plugin, name=self.conflist["name"],
                                              cniVersion=self.version))


def _vfpnet_plugin(lab: Lab, mode: str) -> dict[str, object]:
    plugin = lab.netconf(mode)
    for key in ("cniVersion", "name"):
        del plugin[key]
    return dict(plugin, capabilities={"ips": True, "portMappings": True})


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_conflist_vfpnet_then_tuning_sets_the_mac_and_checks_and_deletes(lab: Lab,
                                                                        version: str) -> None:
    rt = Runtime(lab, {
        "cniVersion": version, "name": f"{lab.prefix}chain",
        "plugins": [_vfpnet_plugin(lab, "transparent"),
                    {"type": "tuning", "capabilities": {"mac": True},
                     "sysctl": {"net.ipv4.conf.eth0.accept_local": "1"}}]})
    mac = "c2:11:22:33:44:55"
    caps: dict[str, object] = {"mac": mac, "portMappings": []}
    pod = lab.pod()
    cid = "chain" + version.replace(".", "")
    try:
        result = rt.add(cid, pod, caps)
        ifaces = result["interfaces"]
        assert isinstance(ifaces, list)
        [inside] = [i for i in ifaces if i.get("sandbox")]
        assert inside["name"] == "eth0" and inside["mac"] == mac
        assert mac in in_ns(pod, "ip", "link", "show", "eth0").stdout
        assert [ip["interface"] for ip in result["ips"]] == [ifaces.index(inside)]  # type: ignore[attr-defined]
        if version >= "0.4.0":
            rt.check(cid, pod, caps)
    finally:
        rt.delete(cid, pod, caps)
        rt.delete(cid, pod, caps)  # DEL is repeatable, as the spec requires
    leaves_nothing(lab)


def test_conflist_at_1_1_0_status_add_check_gc_and_del(lab: Lab) -> None:
    rt = Runtime(lab, {"cniVersion": "1.1.0", "name": f"{lab.prefix}v11",
                       "plugins": [_vfpnet_plugin(lab, "transparent-tunnel")]})
    rt.status()
    pods = [lab.pod(), lab.pod()]
    try:
        for i, pod in enumerate(pods):
            result = rt.add(f"v11p{i}", pod, {})
            assert "dns" not in result and all("version" not in ip
                                               for ip in result["ips"])  # type: ignore[attr-defined]
            rt.check(f"v11p{i}", pod, {})
        rt.gc(["v11p1"])
        assert [p.name for p in lab.state_dir.rglob("*.json")] == ["v11p1:eth0.json"]
        assert len(lab.leftovers()["set_members"]) == 1
    finally:
        for i, pod in enumerate(pods):
            rt.delete(f"v11p{i}", pod, {})
    rt.gc([])
    leaves_nothing(lab)


def test_pod_names_in_cni_args_without_ignore_unknown_work_with_host_local(lab: Lab) -> None:
    # cnitool passes CNI_ARGS as given, with no IgnoreUnknown; host-local alone refuses the
    # K8S_POD_* keys that vfpnet records for the policy agent
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    pod = lab.pod()
    wanted = f"10.244.{SUBNET_OCTET}.66"
    cni_args = f"K8S_POD_NAMESPACE=team;K8S_POD_NAME=web-1;IP={wanted}"
    netns = f"/var/run/netns/{pod}"
    rc, _, out = run(lab, env_for("ADD", "cnitool-0a1b2c", netns, CNI_ARGS=cni_args), conf)
    try:
        assert rc == 0, out
        assert pod_ip(out) == wanted
        [record] = [json.loads(p.read_text()) for p in lab.state_dir.rglob("*.json")]
        assert (record["podNamespace"], record["podName"]) == ("team", "web-1")
        rc, stdout, out = run(lab, env_for("CHECK", "cnitool-0a1b2c", netns, CNI_ARGS=cni_args),
                              dict(conf, prevResult=out))
        assert rc == 0 and stdout == "", out
    finally:
        rc, _, out = run(lab, env_for("DEL", "cnitool-0a1b2c", netns, CNI_ARGS=cni_args), conf)
        assert rc == 0, out
    leaves_nothing(lab)


def test_the_dns_capability_is_the_results_dns(lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0", capabilities={"dns": True},
                       dns={"nameservers": ["10.0.0.53"]},
                       runtimeConfig={"dns": {"servers": ["10.96.0.10"],
                                              "searches": ["ns1.svc.cluster.local"],
                                              "options": ["ndots:5"]}})
    pod = lab.pod()
    result = lab.add(conf, "dnscap", pod)
    lab.delete(conf, "dnscap", pod)
    assert result["dns"] == {"nameservers": ["10.96.0.10"], "search": ["ns1.svc.cluster.local"],
                             "options": ["ndots:5"]}
    rc, _, out = run(lab, env_for("ADD", "dnsbad", f"/var/run/netns/{pod}"),
                     dict(conf, runtimeConfig={"dns": {"servers": "10.96.0.10"}}))
    assert rc == 1 and out["code"] == errors.INVALID_CONFIG
    assert str(out["msg"]).startswith("runtimeConfig.dns.servers")
    leaves_nothing(lab)


def test_an_interface_name_over_15_bytes_is_refused_though_under_15_characters(
        lab: Lab) -> None:
    conf = lab.netconf("transparent", cniVersion="1.1.0")
    rc, _, out = run(lab, env_for("ADD", CNI_IFNAME="\u00e9" * 8), conf)
    assert rc == 1 and out["code"] == errors.INVALID_ENVIRONMENT and "CNI_IFNAME" in out["msg"]


@pytest.mark.parametrize("mode", ["l2bridge", "transparent", "transparent-tunnel"])
def test_one_container_attached_twice_under_two_interface_names(lab: Lab, mode: str) -> None:
    # the spec: a container may join one network more than once, each time under another
    # CNI_IFNAME; each attachment is its own (CNI_CONTAINERID, CNI_IFNAME)
    conf = lab.netconf(mode, cniVersion="1.1.0")
    pod = lab.pod()
    cid = "twice" + mode.replace("-", "")[:8]
    first = lab.add(conf, cid, pod)
    rc, second = lab.run("ADD", conf, cid, pod, "net1")
    try:
        assert rc == 0 and second is not None, second
        assert pod_ip(first) != pod_ip(second)
        links = in_ns(pod, "ip", "-o", "link", "show").stdout
        assert " eth0@" in links and " net1@" in links
        rc, out = lab.run("DEL", conf, cid, pod, "net1")
        assert rc == 0, out
        rc, out = lab.run("CHECK", dict(conf, prevResult=first), cid, pod)
        assert rc == 0, out  # the other attachment is untouched
    finally:
        lab.run("DEL", conf, cid, pod, "net1")
        lab.delete(conf, cid, pod)
    leaves_nothing(lab)


@pytest.mark.parametrize("version", ["0.2.0", "1.1.0"])
def test_static_ipam_built_for_an_older_spec_serves_add_check_and_del(lab: Lab,
                                                                      version: str) -> None:
    # Debian's static knows up to 1.0.0: vfpnet talks to it at 1.0.0, prevResult included
    address = f"10.244.{SUBNET_OCTET}.9/24"
    conf = lab.netconf("transparent", cniVersion=version)
    conf["ipam"] = {"type": "static", "addresses": [{"address": address}],
                    "dns": {"nameservers": ["10.0.0.53"]}}
    pod = lab.pod()
    cid = "static" + version.replace(".", "")
    result = lab.add(conf, cid, pod)
    try:
        assert result["dns"] == {"nameservers": ["10.0.0.53"]}
        if version == "1.1.0":
            assert pod_ip(result) == address.split("/")[0]
            rc, out = lab.run("CHECK", dict(conf, prevResult=result), cid, pod)
            assert rc == 0, out
        else:
            assert result["ip4"]["ip"] == address.replace("/24", "/32")  # type: ignore[index]
    finally:
        lab.delete(conf, cid, pod)
    leaves_nothing(lab)
