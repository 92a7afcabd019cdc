"""统一社会信用代码 (GB 32100-2015): known codes, every failure with its message, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authz.credit_code import (
    CHARSET,
    check_character,
    is_valid,
    make_code,
    org_check_character,
    validate,
)
from xinlian.errors import InvalidArgument

# Codes published for real organizations, and the worked example of the standard's
# check-character computation (sum 1640, 1640 mod 31 = 28, 31 - 28 = 3).
KNOWN_VALID = [
    "91350100M000100Y43",  # GB 32100 worked example
    "914403001922038216",  # 华为技术有限公司 (Wikipedia infobox)
    "91440300708461136T",  # 腾讯科技（深圳）有限公司 (its AIGC content-producer label)
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
]


# -- a naive reference, written from the text of the standards ----------------------------


def reference_check(first17: str) -> str:
    total = 0
    for i in range(1, 18):
        c_i = CHARSET.index(first17[i - 1])
        w_i = (3 ** (i - 1)) % 31
        total += c_i * w_i
    c18 = 31 - total % 31
    return CHARSET[0 if c18 == 31 else c18]


def reference_org_check(body: str) -> str:
    values = [int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10 for ch in body]
    c9 = 11 - sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def test_charset_is_the_31_characters_without_i_o_s_v_z() -> None:
    assert len(CHARSET) == 31
    assert len(set(CHARSET)) == 31
    assert not set("IOSVZ") & set(CHARSET)
    assert CHARSET == "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_are_valid(code: str) -> None:
    assert validate(code) == code
    assert is_valid(code)
    assert check_character(code[:17]) == code[17] == reference_check(code[:17])


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_carry_a_valid_organization_code(code: str) -> None:
    assert org_check_character(code[8:16]) == code[16]


def test_make_code_reproduces_the_standard_example() -> None:
    assert make_code("9", "1", "350100", "M000100Y") == "91350100M000100Y43"


def test_organization_check_character_special_values() -> None:
    # Found by searching with the reference: remainders giving 10 (X) and 11 (0).
    bodies = [f"{n:08d}" for n in range(10_000_000, 10_000_200)]
    by_check = {reference_org_check(b): b for b in bodies}
    assert org_check_character(by_check["X"]) == "X"
    assert org_check_character(by_check["0"]) == "0"


# -- failures, each with a message that says what is wrong -------------------------------


def reason_and_message(code: str) -> tuple[str, str]:
    with pytest.raises(InvalidArgument) as info:
        validate(code)
    err = info.value
    assert err.status_name == "INVALID_ARGUMENT"
    assert err.metadata["field"] == "credit_code"
    assert str(err).startswith("credit_code: ")
    return err.reason, str(err)


@pytest.mark.parametrize(
    ("code", "length"),
    [("", 0), ("9135010", 7), ("91350100M000100Y4", 17), ("91350100M000100Y431", 19)],
)
def test_wrong_length(code: str, length: int) -> None:
    reason, message = reason_and_message(code)
    assert reason == "CREDIT_CODE_LENGTH"
    assert f"({length} characters)" in message
    assert "want 18 characters" in message
    assert not is_valid(code)


def test_very_long_input_is_shortened_in_the_message() -> None:
    _, message = reason_and_message("9" * 10_000)
    assert "(10000 characters)" in message
    assert len(message) < 200


@pytest.mark.parametrize("letter", list("IOSVZ"))
@pytest.mark.parametrize("position", [1, 9, 18])
def test_excluded_letters_are_named_with_their_position(letter: str, position: int) -> None:
    code = KNOWN_VALID[0]
    bad = code[: position - 1] + letter + code[position:]
    reason, message = reason_and_message(bad)
    assert reason == "CREDIT_CODE_CHARSET"
    assert f"{letter!r} at position {position}" in message
    assert "excludes I, O, S, V and Z" in message
    assert not is_valid(bad)


def test_lowercase_is_refused_not_uppercased() -> None:
    code = "91350100m000100Y43"
    reason, message = reason_and_message(code)
    assert reason == "CREDIT_CODE_LOWERCASE"
    assert "'m' at position 9" in message
    assert "lowercase" in message
    assert not is_valid(code)
    assert not is_valid(KNOWN_VALID[2].lower())


@pytest.mark.parametrize("ch", ["-", " ", "统", "\n", "０"])
def test_other_characters_are_named(ch: str) -> None:
    code = "9135" + ch + "100M000100Y43"
    reason, message = reason_and_message(code)
    assert reason == "CREDIT_CODE_CHARSET"
    assert f"{ch!r} at position 5" in message


def test_check_character_mismatch_says_got_and_want() -> None:
    reason, message = reason_and_message("91350100M000100Y44")
    assert reason == "CREDIT_CODE_CHECK"
    assert "got '4', want '3'" in message
    assert "position 18" in message


def test_the_first_problem_is_reported() -> None:
    # Position 3 is lowercase and position 9 excluded: position 3 is named.
    reason, message = reason_and_message("91a50100I000100Y43")
    assert reason == "CREDIT_CODE_LOWERCASE"
    assert "position 3" in message


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="want a string"):
        validate(91350100)  # type: ignore[arg-type]
    assert not is_valid(None)  # type: ignore[arg-type]


def test_check_character_needs_17_valid_characters() -> None:
    with pytest.raises(InvalidArgument, match="17 characters"):
        check_character("9135")
    with pytest.raises(InvalidArgument, match="'O' at position 9"):
        check_character("91350100O000100Y4")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "1", "350100", "M000100Y"), "registration_dept"),
        (("91", "1", "350100", "M000100Y"), "registration_dept"),
        (("9", "I", "350100", "M000100Y"), "org_type"),
        (("9", "1", "35010", "M000100Y"), "division"),
        (("9", "1", "35A100", "M000100Y"), "division"),
        (("9", "1", "350100", "M000100"), "org_code8"),
        (("9", "1", "350100", "MO00100Y"), "org_code8"),
        (("9", "1", "350100", "m000100y"), "org_code8"),
    ],
)
def test_make_code_refuses_bad_parts(args: tuple[str, str, str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        make_code(*args)
    assert info.value.metadata["field"] == field


# -- properties ------------------------------------------------------------------------

code_char = st.sampled_from(CHARSET)
digits6 = st.text(alphabet="0123456789", min_size=6, max_size=6)
org_body = st.text(alphabet=CHARSET, min_size=8, max_size=8)


@settings(max_examples=300)
@given(code_char, code_char, digits6, org_body)
def test_make_code_always_validates(dept: str, org_type: str, division: str, org: str) -> None:
    code = make_code(dept, org_type, division, org)
    assert validate(code) == code
    assert code[:16] == dept + org_type + division + org
    assert code[16] == reference_org_check(org)
    assert code[17] == reference_check(code[:17])


@settings(max_examples=300)
@given(code_char, code_char, digits6, org_body, st.integers(0, 17), code_char)
def test_changing_any_single_character_invalidates(
    dept: str, org_type: str, division: str, org: str, position: int, replacement: str
) -> None:
    code = make_code(dept, org_type, division, org)
    if code[position] == replacement:
        replacement = CHARSET[(CHARSET.index(replacement) + 1) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    assert not is_valid(changed)
    with pytest.raises(InvalidArgument):
        validate(changed)


@settings(max_examples=300)
@given(st.text(alphabet=CHARSET + "IOSVZaz-", min_size=16, max_size=19))
def test_is_valid_agrees_with_validate_and_reference(code: str) -> None:
    try:
        validate(code)
        accepted = True
    except InvalidArgument:
        accepted = False
    assert is_valid(code) is accepted
    reference = (
        len(code) == 18 and all(ch in CHARSET for ch in code) and reference_check(code) == code[17]
    )
    assert accepted is reference


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_org_check_character_matches_reference(body: str) -> None:
    assert org_check_character(body) == reference_org_check(body)
