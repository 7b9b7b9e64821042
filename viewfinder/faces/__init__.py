"""Faces: detection, 478-point mesh, head pose, expression and camera geometry.

A second, geometric measurement of emotion and camera angle next to the VLM judge's word:
:mod:`~viewfinder.faces.detect` (MediaPipe detection + mesh), :mod:`~viewfinder.faces.pose`
(solvePnP head pose), :mod:`~viewfinder.faces.expression` (landmark heuristic),
:mod:`~viewfinder.faces.expression_model` (optional hub classifier),
:mod:`~viewfinder.faces.camera` (angle and shot size rules) and
:mod:`~viewfinder.faces.analyzer` (the ``faces`` analyzer). Heavy imports stay in the
submodules, so importing this package is cheap.
"""
