"""Faces: detection, 478-point mesh, head pose, expression and camera geometry.

A second, geometric measurement of emotion and camera angle next to the VLM judge's word:
:mod:`~viewfinder.faces.detect` (MediaPipe detection + mesh), :mod:`~viewfinder.faces.pose`
(head pose from a Procrustes fit of the whole mesh, calibrated on real photographs),
:mod:`~viewfinder.faces.expression` (the default FER2013 mini-Xception, offline) run by
:mod:`~viewfinder.faces.expression_net` (Keras HDF5 in NumPy),
:mod:`~viewfinder.faces.expression_model` (optional hub classifier),
:mod:`~viewfinder.faces.camera` (angle and shot size rules) and
:mod:`~viewfinder.faces.analyzer` (the ``faces`` analyzer). Heavy imports stay in the
submodules, so importing this package is cheap.
"""
