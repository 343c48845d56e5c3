"""File names that every Windows desk accepts, and atomic writes."""

from __future__ import annotations

import pytest

from perfeval_xl.fileio import MAX_STEM, atomic_write_bytes, safe_file_stem, unique_stem


@pytest.mark.parametrize(
    ("text", "exp"),
    [
        ("109101_宣传部_项目", "109101_宣传部_项目"),
        ('a<b>c:d"e/f\\g|h?i*j', "a_b_c_d_e_f_g_h_i_j"),
        ("tab\there\r\nnew", "tab here new"),
        ("CON", "CON_"),
        ("nul.txt", "nul.txt_"),
        ("com1", "com1_"),
        ("name. . ", "name"),
        ("...", "_"),
        ("", "_"),
        ("项" * 200, "项" * MAX_STEM),
    ],
)
def test_safe_file_stem(text, exp):
    assert safe_file_stem(text) == exp


def test_unique_stem_is_case_blind():
    taken: set[str] = set()
    assert [unique_stem(s, taken) for s in ("Ab", "aB", "ab", "c")] == ["Ab", "aB_2", "ab_3", "c"]


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.xlsx"
    path.write_bytes(b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_atomic_write_uses_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.xlsx", b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.xlsx").stat().st_mode & 0o777 == 0o644
