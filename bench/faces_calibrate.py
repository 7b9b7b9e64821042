"""Derive the faces analyzer's mean face mesh and pose calibration from a head-pose set.

    .venv/bin/python bench/faces_calibrate.py ../shared/data/headpose-dev

Writes ``viewfinder/faces/data/face_model.json`` (the mean frontal mesh and the yaw and
pitch calibration knots, see :mod:`viewfinder.faces.pose`) and prints the leave-one-person-
out error of the calibration. Only headpose-dev may be used here: the held-out set checks
the result. Steps:

1. MediaPipe's mesh (468 points with depth) of every photo and of its mirror image (so the
   mean is left-right symmetric and has no yaw or roll of its own).
2. Generalized Procrustes mean of all meshes, turned onto the plain average of the frontal
   (tilt 0, pan 0) meshes: its zero point is a person looking at a mark at eye level.
3. Raw yaw and pitch of every photo against that mean; the calibration knots are the mean
   raw angle at each labelled angle (pitch = -tilt, yaw = -pan, viewfinder's signs).
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
from viewfinder.faces.detect import FaceFinder  # noqa: E402
from viewfinder.faces.camera import camera_angle  # noqa: E402
from viewfinder.faces.pose import MESH_POINTS, fit_rotation, normalise, raw_head_pose, through_knots  # noqa: E402

OUT = ROOT / "viewfinder" / "faces" / "data" / "face_model.json"
ROUNDS = 5


def meshes(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(photos x 2 x 468 x 3 normalised meshes: as taken, mirrored), pitch, yaw, person."""
    rows = list(csv.DictReader((folder / "labels.csv").read_text(encoding="utf-8").splitlines()))
    finder = FaceFinder()
    out = np.full((len(rows), 2, MESH_POINTS, 3), np.nan)
    try:
        for i, row in enumerate(rows):
            rgb, _ = read_rgb(folder / row["file"])
            for k, image in enumerate((rgb, np.ascontiguousarray(rgb[:, ::-1]))):
                scan = finder.scan(image)
                if scan.landmarks is not None:
                    out[i, k] = normalise(scan.landmarks[:MESH_POINTS])
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
    return [float(raw[label == level].mean()) for level in levels], [float(level) + 0.0 for level in levels]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="the head-pose development set (labels.csv + images/)")
    args = parser.parse_args()
    found, pitch, yaw, person = meshes(args.folder)
    ok = np.isfinite(found).all(axis=(1, 2, 3))
    found, pitch, yaw, person = found[ok], pitch[ok], yaw[ok], person[ok]
    frontal = found[(pitch == 0) & (yaw == 0)].reshape(-1, MESH_POINTS, 3)
    mesh = mean_mesh(found.reshape(-1, MESH_POINTS, 3), frontal)
    raw = np.array([[raw_head_pose(m, mesh).yaw, raw_head_pose(m, mesh).pitch] for m in found[:, 0]])
    calibration = {}
    for column, (name, label) in enumerate((("yaw", yaw), ("pitch", pitch))):
        values, degrees = knots(raw[:, column], label)
        if np.any(np.diff(values) <= 0):
            raise SystemExit(
                f"{name}: the mean raw angles {values} do not rise with the labels; no calibration"
            )
        calibration[name] = {"raw": [round(v, 3) for v in values], "degrees": degrees}
        errors, right = [], []  # leave one person out: knots from the others, error on the one left out
        for who in sorted(set(person.tolist())):
            rest = person != who
            k, d = (np.asarray(x) for x in knots(raw[rest, column], label[rest]))
            said = np.array([through_knots(r, k, d) for r in raw[~rest, column]])
            errors.append(np.abs(said - label[~rest]))
            right += [camera_angle(s) == camera_angle(t) for s, t in zip(said, label[~rest], strict=True)]
        accuracy = f"; camera-angle accuracy {np.mean(right):.3f}" if name == "pitch" else ""
        print(
            f"{name}: knots {calibration[name]}; leave-one-person-out MAE {np.concatenate(errors).mean():.2f} degrees"
            f"{accuracy}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "about": "Mean frontal MediaPipe face mesh (468 points; centred, unit RMS radius; x right, y down, z away "
                "from the viewer) and yaw/pitch calibration knots (mean raw Procrustes angle at each labelled "
                "angle), derived by bench/faces_calibrate.py from ../shared/data/headpose-dev "
                f"({ok.sum()} Pointing'04 photos of 8 people and their mirror images).",
                "calibration": calibration,
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
