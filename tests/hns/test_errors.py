"""HNS errors: codes shown as hcsshim shows them, names, predicates, error records."""

from __future__ import annotations

import pytest

from vfpnet.hns.errors import (
    HcnError,
    hcn_error,
    is_not_found,
    is_port_already_exists,
    parse_error_record,
    parse_hresult,
)


def test_hcn_codes_show_as_hresults_and_win32_ones_unwrapped() -> None:
    assert f"0x{hcn_error('HCN_E_NETWORK_ALREADY_EXISTS').code:X}" == "0x803B0010"
    assert hcn_error("ERROR_NOT_FOUND").code == 0x490
    assert HcnError(0x1392).hresult == 0x80071392 and HcnError(0x1392).name == (
        "ERROR_OBJECT_ALREADY_EXISTS"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x803B0010", 0x803B0010),
        ("2151350288", 0x803B0010),
        ("HCN_E_NETWORK_ALREADY_EXISTS", 0x803B0010),
        ("0x490", 0x80070490),
        ("error_not_found", 0x80070490),
    ],
)
def test_hresults_parse_from_hex_decimal_names_and_win32_codes(text: str, value: int) -> None:
    assert parse_hresult(text) == value


def test_unparsable_hresult_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="HRESULT"):
        parse_hresult("soon")


def test_not_found_and_port_exists_predicates_match_hcsshim() -> None:
    assert is_not_found(hcn_error("HCN_E_ENDPOINT_NOT_FOUND"))
    assert is_not_found(hcn_error("HCN_E_NETWORK_NOT_FOUND"))
    assert is_not_found(hcn_error("ERROR_NOT_FOUND"))
    assert not is_not_found(hcn_error("HCN_E_INVALID_POLICY"))
    assert not is_not_found(ValueError("x"))
    assert is_port_already_exists(hcn_error("HCN_E_PORT_ALREADY_EXISTS"))


def test_unknown_hresult_keeps_its_value_and_a_generic_message() -> None:
    err = HcnError(0x803B00FF)
    assert err.name == "0x803B00FF" and err.message == "Failure."


def test_error_records_round_trip() -> None:
    err = hcn_error("HCN_E_INVALID_IP")
    record = parse_error_record(err.error_record())
    assert record is not None and record.error_code == 0x803B001E and not record.success
    assert parse_error_record("") is None
    assert parse_error_record("plain words") == type(record)(False, "plain words", None)
