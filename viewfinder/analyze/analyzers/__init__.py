"""The analyzers, one module each; every one depends on :mod:`viewfinder.analyze.base` only.

- ``pixels``: entropy, noise, sharpness, clipping, colourfulness.
- ``clip``: CLIP prompt and dimension similarities plus the LAION aesthetic score.
- ``faces``: face count, head pose, expression and camera geometry (helpers in :mod:`viewfinder.faces`).
- ``expression_model``: the faces analyzer's optional hub classifier of face crops.
- ``judge``: the VLM judge's card text and adherence answers (backends in :mod:`viewfinder.judge`).

Each declares its measurement specs with their roles; :mod:`viewfinder.analyze.registry` lists them.
"""
