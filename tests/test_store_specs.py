"""Measurement specs: a checked better direction and typed roles that survive the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from viewfinder.store import RunStore, specs


def test_better_is_a_closed_set() -> None:
    assert specs.MeasurementSpec("x", "unit", "lower", "d").better is specs.Better.LOWER
    with pytest.raises(ValueError, match=r"'x'.*better='best'.*higher, lower, none, target"):
        specs.MeasurementSpec("x", "unit", "best", "d")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        specs.AdherenceRole("mood", "m", "method", specs.Reading.LABEL, "")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a measurement role"):
        specs.MeasurementSpec("x", "unit", specs.Better.NONE, "d", ("score",))  # type: ignore[arg-type]


def test_roles_round_trip_through_the_store(tmp_path: Path) -> None:
    roles = (
        specs.ScoreRole("Brightness", "probability", compare=False, order=3),
        specs.CardRole(specs.CardSection.QUALITY, "Brightness", 7, digits=1, summary=True),
        specs.AdherenceRole(
            specs.Dimension.STYLE, "probe", "a probe", specs.Reading.MATCH, "Share of bright images.", 5
        ),
        specs.FlagRole("are too bright"),
        specs.ModelRole(),
    )
    with RunStore(tmp_path) as store:
        store.register_specs(
            "probe",
            "2",
            [
                specs.MeasurementSpec("level", "0-1", specs.Better.HIGHER, "mean level", roles),
                specs.MeasurementSpec("raw", "bytes", specs.Better.NONE, "raw data"),
            ],
        )
        records = {stored.key: stored for stored in store.spec_records()}
    assert records["probe.level"].version == "2"
    assert records["probe.level"].spec.roles == roles
    assert records["probe.level"].spec.role(specs.AdherenceRole).label == "Style (a probe)"
    assert records["probe.raw"].spec.roles == ()  # raw data: no role
    with sqlite3.connect(tmp_path / "viewfinder.sqlite") as conn:  # the column the migration added
        assert conn.execute("SELECT better, roles FROM measurement_specs WHERE name='raw'").fetchone() == (
            "none",
            "[]",
        )


def test_a_version_1_run_gains_the_roles_column(tmp_path: Path) -> None:
    from viewfinder.store.schema import MIGRATIONS

    with sqlite3.connect(tmp_path / "viewfinder.sqlite") as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version=1")
        conn.execute("INSERT INTO measurement_specs VALUES ('pixels', '1', 'entropy', 'bits', 'higher', 'entropy')")
    with RunStore(tmp_path) as store:
        (stored,) = store.spec_records()
    assert (stored.key, stored.spec.better, stored.spec.roles) == ("pixels.entropy", specs.Better.HIGHER, ())
