"""A requested MAC for the pod interface, as the reference `bridge` plugin takes it:
`CNI_ARGS` `MAC`, netconf `args.cni.mac`, the `mac` capability (`runtimeConfig.mac`)."""

from __future__ import annotations

import json

import pytest
from netlab import Lab, in_ns, needs_root

from vfpnet.cni import errors

pytestmark = [needs_root, pytest.mark.net]
SUBNET_OCTET = 111
MAC = "c2:11:22:33:44:55"
BASE_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p"


def ask(lab: Lab, mode: str, way: str, mac: str) -> tuple[dict[str, object], dict[str, str]]:
    """The netconf and extra environment that ask for `mac` one `way`."""
    conf = lab.netconf(mode)
    if way == "CNI_ARGS":
        return conf, {"CNI_ARGS": f"{BASE_ARGS};MAC={mac}"}
    if way == "args.cni.mac":
        return dict(conf, args={"cni": {"mac": mac}}), {}
    return dict(conf, capabilities={"mac": True}, runtimeConfig={"mac": mac}), {}


def pod_link_mac(pod: str) -> str:
    return str(json.loads(in_ns(pod, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"])


def result_mac(result: dict[str, object]) -> str:
    interfaces = result["interfaces"]
    assert isinstance(interfaces, list)
    [inside] = [i for i in interfaces if i.get("sandbox")]
    return str(inside["mac"])


@pytest.mark.parametrize("mode", ["l2bridge", "transparent"])
@pytest.mark.parametrize("way", ["CNI_ARGS", "args.cni.mac", "runtimeConfig.mac"])
def test_requested_mac_is_on_the_pod_link_in_the_result_and_passes_check(
        lab: Lab, mode: str, way: str) -> None:
    conf, env = ask(lab, mode, way, MAC)
    pod = lab.pod()
    cid = f"mac{mode[:2]}{way[:4]}"
    result = lab.add(conf, cid, pod, **env)
    try:
        assert pod_link_mac(pod) == MAC
        assert result_mac(result) == MAC
        rc, out = lab.run("CHECK", dict(conf, prevResult=result), cid, pod, **env)
        assert rc == 0, out
    finally:
        lab.delete(conf, cid, pod, **env)
    lab.assert_clean()


def test_mac_in_dash_and_dotted_notation_is_written_canonically(lab: Lab) -> None:
    for i, written in enumerate(["C2-11-22-33-44-55", "c211.2233.4455"]):
        conf, env = ask(lab, "transparent", "CNI_ARGS", written)
        pod = lab.pod()
        result = lab.add(conf, f"macnot{i}", pod, **env)
        try:
            assert pod_link_mac(pod) == MAC and result_mac(result) == MAC
        finally:
            lab.delete(conf, f"macnot{i}", pod, **env)
    lab.assert_clean()


@pytest.mark.parametrize(("ways", "winner"), [
    (("CNI_ARGS", "args.cni.mac", "runtimeConfig.mac"), "runtimeConfig.mac"),
    (("CNI_ARGS", "args.cni.mac"), "args.cni.mac"),
    (("CNI_ARGS", "runtimeConfig.mac"), "runtimeConfig.mac"),
])
def test_precedence_is_runtime_config_then_netconf_args_then_cni_args(
        lab: Lab, ways: tuple[str, ...], winner: str) -> None:
    macs = {"CNI_ARGS": "c2:00:00:00:00:01", "args.cni.mac": "c2:00:00:00:00:02",
            "runtimeConfig.mac": "c2:00:00:00:00:03"}
    conf = lab.netconf("transparent")
    env: dict[str, str] = {}
    for way in ways:
        asked, extra = ask(lab, "transparent", way, macs[way])
        conf.update({k: v for k, v in asked.items() if k in ("args", "capabilities",
                                                              "runtimeConfig")})
        env.update(extra)
    pod = lab.pod()
    cid = "macprec" + "".join(w[0] for w in ways)
    result = lab.add(conf, cid, pod, **env)
    try:
        assert pod_link_mac(pod) == macs[winner] and result_mac(result) == macs[winner]
    finally:
        lab.delete(conf, cid, pod, **env)
    lab.assert_clean()


@pytest.mark.parametrize(("way", "mac", "msg"), [
    ("runtimeConfig.mac", "zz", 'runtimeConfig.mac: "zz" is not a MAC address'),
    ("args.cni.mac", "c2:11:22:33:44", 'args.cni.mac: "c2:11:22:33:44" is not a MAC address'),
    ("CNI_ARGS", "c2:11:22:33:44:55:66:77", 'CNI_ARGS MAC: "c2:11:22:33:44:55:66:77" is not'),
    ("runtimeConfig.mac", "01:00:5e:00:00:01", "runtimeConfig.mac: 01:00:5e:00:00:01 is a "
     "multicast MAC address"),
    ("CNI_ARGS", "ff:ff:ff:ff:ff:ff", "CNI_ARGS MAC: ff:ff:ff:ff:ff:ff is a multicast"),
    ("args.cni.mac", "00:00:00:00:00:00", "args.cni.mac: 00:00:00:00:00:00 is not a usable"),
])
@pytest.mark.parametrize("mode", ["l2bridge", "transparent"])
def test_a_bad_or_multicast_mac_is_code_7_naming_its_source_and_creates_nothing(
        lab: Lab, mode: str, way: str, mac: str, msg: str) -> None:
    conf, env = ask(lab, mode, way, mac)
    pod = lab.pod()
    rc, out = lab.run("ADD", conf, "macbad", pod, **env)
    assert rc == 1 and out is not None and out["code"] == errors.INVALID_CONFIG, out
    assert str(out["msg"]).startswith(msg), out
    assert "eth0" not in in_ns(pod, "ip", "-o", "link", "show").stdout
    lab.assert_clean()
    lab.delete(conf, "macbad", pod, **env)  # the runtime's DEL after the failed ADD


def test_a_bad_mac_of_lower_precedence_is_refused_too(lab: Lab) -> None:
    conf = dict(lab.netconf("transparent"), runtimeConfig={"mac": MAC},
                args={"cni": {"mac": "not-a-mac"}})
    pod = lab.pod()
    rc, out = lab.run("ADD", conf, "maclow", pod)
    assert rc == 1 and out is not None and out["code"] == errors.INVALID_CONFIG, out
    assert str(out["msg"]).startswith("args.cni.mac:")
    lab.assert_clean()


def test_check_reports_a_mac_changed_by_hand(lab: Lab) -> None:
    conf, env = ask(lab, "transparent", "runtimeConfig.mac", MAC)
    pod = lab.pod()
    result = lab.add(conf, "macdrift", pod, **env)
    try:
        in_ns(pod, "ip", "link", "set", "eth0", "address", "c2:11:22:33:44:99")
        rc, out = lab.run("CHECK", dict(conf, prevResult=result), "macdrift", pod, **env)
        assert rc == 1 and out is not None and out["code"] == errors.CHECK_DRIFT, out
        assert f"MAC of eth0 is c2:11:22:33:44:99, not {MAC}" in str(out["msg"])
    finally:
        lab.delete(conf, "macdrift", pod, **env)
    lab.assert_clean()


def test_dual_stack_transparent_node_neighbour_entry_uses_the_requested_mac(lab: Lab) -> None:
    """The node reaches a transparent pod's IPv6 address by a permanent neighbour entry made
    from the pod's MAC: with a requested MAC it must be that one, or IPv6 to the pod breaks."""
    conf, env = ask(lab, "transparent", "runtimeConfig.mac", MAC)
    conf["ipam"] = dict(conf["ipam"], ranges=[[{"subnet": lab.subnet}],  # type: ignore[arg-type]
                                              [{"subnet": "fd00:244:111::/64"}]])
    pods = [lab.pod(), lab.pod()]
    results = []
    try:
        results.append(lab.add(conf, "mac6a", pods[0], **env))
        results.append(lab.add(dict(conf, runtimeConfig={"mac": "c2:00:00:00:00:66"}), "mac6b",
                               pods[1]))
        [addr6] = [str(ip["address"]).split("/")[0] for ip in results[0]["ips"]  # type: ignore[attr-defined]
                   if ":" in str(ip["address"])]
        neigh = json.loads(in_ns(lab.node, "ip", "-j", "-6", "neigh", "show", addr6).stdout)
        assert [n["lladdr"] for n in neigh] == [MAC]
        assert in_ns(pods[1], "ping", "-6", "-c", "1", "-W", "2", addr6,
                     check=False).returncode == 0
    finally:
        for cid, pod in zip(("mac6a", "mac6b"), pods, strict=True):
            lab.delete(conf, cid, pod)
    lab.assert_clean()
