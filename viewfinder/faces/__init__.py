"""Faces: detection, 478-point mesh, head pose, expression and camera geometry.

A second, geometric measurement of emotion and camera angle next to the VLM judge's word:
:mod:`~viewfinder.faces.detect` (MediaPipe detection + mesh), :mod:`~viewfinder.faces.pose`
(head pose from a Procrustes fit of the whole mesh, calibrated on real photographs),
:mod:`~viewfinder.faces.expression` (the default FER2013 mini-Xception, offline) run by
:mod:`~viewfinder.faces.expression_net` (Keras HDF5 in NumPy) and
:mod:`~viewfinder.faces.camera` (angle and shot size rules): a library that the ``faces``
analyzer (:mod:`viewfinder.analyze.analyzers.faces`) uses. The optional hub classifier of
face crops loads models, so it lives beside the analyzers
(:mod:`viewfinder.analyze.analyzers.expression_model`); this package imports nothing of
analyze. Heavy imports stay in the submodules, so importing this package is cheap.
"""
