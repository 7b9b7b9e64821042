"""Derive the faces analyzer's mean face mesh and pose calibration from a head-pose set.

    .venv/bin/python bench/faces_calibrate.py ../shared/data/headpose-dev

Writes ``viewfinder/faces/data/face_model.json`` (the mean frontal mesh and the yaw and
pitch calibration knots, see :mod:`viewfinder.faces.pose`) and prints the in-sample and the
leave-one-person-out figures (the mean mesh and the knots rebuilt without the person whose
photos are scored) and the camera-angle decision points. Only headpose-dev may be used here:
the held-out set checks the result. Steps:

1. MediaPipe's mesh (468 points with depth) of every photo and of its mirrored face crop,
   as the analyzer scans them (the mirrored meshes make the mean left-right symmetric).
2. Generalized Procrustes mean of all meshes, turned onto the plain average of the frontal
   (tilt 0, pan 0) meshes: its zero point is a person looking at a mark at eye level.
3. Raw yaw and pitch of every photo against that mean (the photo's and its mirror's averaged);
   the calibration knots are the median raw angle at each labelled angle (pitch = -tilt,
   yaw = -pan, viewfinder's signs; the median, as the calibrated angles are judged by their
   absolute error).
4. The camera-angle decision points: the midpoints between the median calibrated pitch of
   neighbouring labelled steps of different classes (15 | 30 and 30 | 60, both signs pooled).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from viewfinder.analyze.analyzers.faces import read_rgb  # noqa: E402
from viewfinder.faces.camera import _angle, angle_class  # noqa: E402
from viewfinder.faces.detect import FaceFinder  # noqa: E402
from viewfinder.faces.pose import MESH_POINTS, fit_rotation, normalise, raw_head_pose, through_knots  # noqa: E402

OUT = ROOT / "viewfinder" / "faces" / "data" / "face_model.json"
ROUNDS = 5


def meshes(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(photos x 2 x 468 x 3 normalised meshes: as taken, mirrored crop), pitch, yaw, person."""
    rows = list(csv.DictReader((folder / "labels.csv").read_text(encoding="utf-8").splitlines()))
    finder = FaceFinder()
    out = np.full((len(rows), 2, MESH_POINTS, 3), np.nan)
    try:
        for i, row in enumerate(rows):
            scan = finder.scan(read_rgb(folder / row["file"])[0])
            if scan.landmarks is not None and scan.mirrored is not None:
                out[i, 0] = normalise(scan.landmarks[:MESH_POINTS])
                out[i, 1] = normalise(scan.mirrored[:MESH_POINTS])
    finally:
        finder.close()
    pitch = np.array([-float(r["tilt_deg"]) for r in rows])
    yaw = np.array([-float(r["pan_deg"]) for r in rows])
    person = np.array([int(r["person"]) for r in rows])
    return out, pitch, yaw, person


def mean_mesh(all_meshes: np.ndarray, frontal: np.ndarray) -> np.ndarray:
    """Generalized Procrustes mean of ``all_meshes`` oriented like the mean of ``frontal``."""
    reference = normalise(frontal.mean(axis=0))
    mean = reference
    for _ in range(ROUNDS):
        aligned = [m @ fit_rotation(mean, m) for m in all_meshes]  # each turned into the mean's frame
        mean = normalise(np.mean(aligned, axis=0))
        mean = mean @ fit_rotation(reference, mean)
    return mean


def knots(raw: np.ndarray, label: np.ndarray) -> tuple[list[float], list[float]]:
    levels = sorted(set(label.tolist()))
    return [float(np.median(raw[label == level])) for level in levels], [float(level) + 0.0 for level in levels]


def fit(found: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, dict[str, list[list[float]]]]:
    """Mean mesh and (yaw, pitch) knots from ``found`` meshes; raises SystemExit when a median raw
    angle does not rise with the labels."""
    frontal = found[(pitch == 0) & (yaw == 0), 0]
    mesh = mean_mesh(found.reshape(-1, MESH_POINTS, 3), frontal)
    raw = raw_angles(mesh, found)
    calibration = {}
    for column, (name, label) in enumerate((("yaw", yaw), ("pitch", pitch))):
        values, degrees = knots(raw[:, column], label)
        if np.any(np.diff(values) <= 0):
            raise SystemExit(f"{name}: the median raw angles {values} do not rise with the labels; no calibration")
        calibration[name] = [values, degrees]
    return mesh, calibration


def raw_angles(mesh: np.ndarray, found: np.ndarray) -> np.ndarray:
    poses = [raw_head_pose(m[0], mesh, mirrored=m[1]) for m in found]
    return np.array([[p.yaw, p.pitch] for p in poses])


def calibrated(mesh: np.ndarray, calibration: dict[str, list[list[float]]], found: np.ndarray) -> np.ndarray:
    raw = raw_angles(mesh, found)
    return np.array(
        [
            [through_knots(r, *(np.asarray(x) for x in calibration[name])) for r in raw[:, column]]
            for column, name in enumerate(("yaw", "pitch"))
        ]
    ).T


def decision_points(said_pitch: np.ndarray, pitch: np.ndarray) -> tuple[float, float]:
    """Midpoints between the median |calibrated pitch| of labelled |pitch| 15 and 30, and 30 and 60."""
    mean = {level: float(np.median(np.abs(said_pitch[np.abs(pitch) == level]))) for level in (15.0, 30.0, 60.0)}
    return (mean[15.0] + mean[30.0]) / 2, (mean[30.0] + mean[60.0]) / 2


def summary(said: np.ndarray, pitch: np.ndarray, yaw: np.ndarray, limits: tuple[float, float]) -> str:
    truth = [angle_class(p) for p in pitch]
    at_class = np.mean([_angle(s, 15.0, 45.0) == t for s, t in zip(said[:, 1], truth, strict=True)])
    at_limits = np.mean([_angle(s, *limits) == t for s, t in zip(said[:, 1], truth, strict=True)])
    return (
        f"pitch MAE {np.abs(said[:, 1] - pitch).mean():.2f}, yaw MAE {np.abs(said[:, 0] - yaw).mean():.2f}; "
        f"camera-angle accuracy cut at 15/45 {100 * at_class:.1f}%, at {limits[0]:.1f}/{limits[1]:.1f} "
        f"{100 * at_limits:.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the head-pose development set (labels.csv + images/)")
    args = parser.parse_args()
    found, pitch, yaw, person = meshes(args.folder)
    ok = np.isfinite(found).all(axis=(1, 2, 3))
    found, pitch, yaw, person = found[ok], pitch[ok], yaw[ok], person[ok]
    mesh, calibration = fit(found, pitch, yaw)
    said = calibrated(mesh, calibration, found)
    limits = decision_points(said[:, 1], pitch)
    print(f"knots {calibration}")
    print(
        f"decision points (midpoints of calibrated class steps): {limits[0]:.2f}, {limits[1]:.2f} "
        "(the analyzer cuts at the labelled steps' midpoints, 22.5 and 45)"
    )
    print(f"in-sample: {summary(said, pitch, yaw, (22.5, 45.0))}")
    held_out = np.empty_like(said)  # leave one person out: mean mesh and knots from the others
    for who in sorted(set(person.tolist())):
        rest = person != who
        held_out[~rest] = calibrated(*fit(found[rest], pitch[rest], yaw[rest]), found[~rest])
    print(f"leave one person out: {summary(held_out, pitch, yaw, (22.5, 45.0))}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "about": "Mean frontal MediaPipe face mesh (468 points; centred, unit RMS radius; x right, y down, "
                "z away from the viewer) and yaw/pitch calibration knots (median raw Procrustes angle, photo and "
                "mirrored crop averaged, at each labelled angle), derived by bench/faces_calibrate.py from "
                f"../shared/data/headpose-dev ({ok.sum()} Pointing'04 photos of 8 people and their mirrored crops).",
                "calibration": {
                    name: {"raw": [round(v, 3) for v in values], "degrees": degrees}
                    for name, (values, degrees) in calibration.items()
                },
                "mesh": np.round(mesh, 5).tolist(),
            },
            separators=(",", ":"),
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {OUT} ({ok.sum()} of {ok.size} photos meshed)")


if __name__ == "__main__":
    main()
