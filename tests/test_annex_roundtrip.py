"""`publish` then reading the annex gives back the same records: money, indicators, statuses,
and for forms with scores the same scores. The seed's three projects (424.56 / 155.63) go through
the demo's workbooks, the annex and back; every built-in project form goes through a filled
template, the annex and back."""

from __future__ import annotations

import pytest
from conftest import FORMS
from helpers import filled

from perfeval_xl.demo import run_demo
from perfeval_xl.intake.annexread import read_document
from perfeval_xl.office.collect import collect
from perfeval_xl.office.publish import annex_docx
from perfeval_xl.review.checks import check_read

MONEY = 0.005
#: What a project is, as a reviewer compares two copies of it.
SINGLE = ("project_name", "dept_code", "unit_name", "year", "goal_expected", "goal_actual")


def _published(coll) -> list:
    """The annex of `coll`'s projects, read back: one checked result per table."""
    data = annex_docx([(s.counted_record, s.counted_score) for s in coll.projects])
    return [check_read(r) for r in read_document("附件2.docx", data)]


def _same(before, after) -> None:
    a, b = before.counted_record, after.record
    assert b is not None, [f.code for f in after.findings]
    assert b.spec.id == a.spec.id
    for name in SINGLE:
        assert b.value(name) == a.value(name), name
    for row in a.spec.fund_rows:
        for col in a.spec.amount_columns:
            got, want = b.fund(row.key, col.key), a.fund(row.key, col.key)
            assert (got is None) == (want is None), (row.key, col.key, got, want)
            if want is not None:
                assert got == pytest.approx(want, abs=MONEY), (row.key, col.key)
    keys = [c.key for c in a.spec.indicator_columns]
    assert [[i.value(k) for k in keys] for i in b.indicators] == [
        [i.value(k) for k in keys] for i in a.indicators
    ]


def _by_name(results) -> dict:
    return {r.record.value("project_name"): r for r in results}


def test_seed_projects_round_trip_through_the_annex(tmp_path):
    demo = run_demo(tmp_path / "demo")
    coll = demo.collection
    back = _by_name(_published(coll))
    assert len(back) == len(coll.projects) == 3
    for s in coll.projects:
        got = back[s.counted_record.value("project_name")]
        _same(s, got)
        assert got.score.total == pytest.approx(s.counted_score.total, abs=0.01)
    budget = sum(r.record.fund("total", "budget") for r in back.values())
    spent = sum(r.record.fund("total", "spent") for r in back.values())
    assert budget == pytest.approx(424.56, abs=MONEY)
    assert spent == pytest.approx(155.63, abs=MONEY)
    # the same checks find the same problems (by code), apart from how a table is read
    for s in coll.projects:
        got = back[s.counted_record.value("project_name")]
        errors = sorted(f.code for f in got.findings if f.severity == "error")
        assert errors == sorted(f.code for f in s.result.findings if f.severity == "error")


@pytest.mark.parametrize("form", FORMS)
def test_every_project_form_round_trips(tmp_path, form):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    filled(inbox, form)
    coll = collect(inbox)
    (sub,) = coll.projects
    (got,) = _published(coll)
    _same(sub, got)
    if sub.counted_score is not None and sub.counted_score.total is not None:
        assert got.score.total == pytest.approx(sub.counted_score.total, abs=0.01)
    assert [f for f in got.findings if f.code == "I024" and form in f.message.zh]


def test_annexes_saved_by_libreoffice_read_back_the_same(tmp_path, lo_profile):
    """A department edits the annex in LibreOffice Writer (or WPS) and saves it as .docx: its
    merges and texts are written afresh (vMerge, gridSpan, runs); the records are unchanged.
    Both our published annex and the seed rebuilt as a department typed it."""
    from annex_corpus import seed_annex
    from soffice import convert

    demo = run_demo(tmp_path / "demo")
    ours = tmp_path / "in" / "ours.docx"
    ours.parent.mkdir()
    ours.write_bytes(demo.annex.read_bytes())
    seed = tmp_path / "in" / "seed.docx"
    seed.write_bytes(seed_annex().data)
    saved = convert([ours, seed], "docx:MS Word 2007 XML", tmp_path / "out", lo_profile)
    for before, after in zip((ours, seed), saved, strict=True):
        assert after.read_bytes() != before.read_bytes()  # LibreOffice wrote it afresh
        want = [check_read(r) for r in read_document(before.name, before.read_bytes())]
        got = [check_read(r) for r in read_document(after.name, after.read_bytes())]
        assert len(got) == len(want) == 3
        for w, g in zip(want, got, strict=True):
            assert g.record is not None, [f.code for f in g.findings]
            for name in SINGLE:
                assert g.record.value(name) == w.record.value(name), name
            for col in ("budget", "spent"):
                assert g.record.fund("total", col) == pytest.approx(
                    w.record.fund("total", col), abs=MONEY
                )
            keys = [c.key for c in w.record.spec.indicator_columns]
            assert [[i.value(k) for k in keys] for i in g.record.indicators] == [
                [i.value(k) for k in keys] for i in w.record.indicators
            ]
            assert sorted(f.code for f in g.findings) == sorted(f.code for f in w.findings)
