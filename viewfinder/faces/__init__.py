"""Faces: detection, 478-point mesh, head pose, expression and camera geometry.

A second, geometric measurement of emotion and camera angle next to the VLM judge's word:
:mod:`~viewfinder.faces.detect` (MediaPipe detection + mesh), :mod:`~viewfinder.faces.pose`
(solvePnP head pose), :mod:`~viewfinder.faces.expression` (landmark heuristic),
:mod:`~viewfinder.faces.expression_model` (optional hub classifier) and
:mod:`~viewfinder.faces.camera` (angle and shot size rules): a library that the ``faces``
analyzer (:mod:`viewfinder.analyze.analyzers.faces`) uses. Heavy imports stay in the
submodules, so importing this package is cheap.
"""
