"""Image analysis: analyzers measure each stored image; the runner batches, resumes and stores.

- ``base``: the Analyzer interface (name, version, measurement specs, batched ``analyze``).
- ``registry``: ``ANALYZERS``, name -> factory; ``runner``: ``run_analysis`` (``viewfinder analyze``).
- ``pixels``: entropy, noise, sharpness, clipping, colourfulness.
- ``clip``: CLIP prompt and dimension similarities plus the LAION aesthetic score.
- ``models``: hub ids or local paths, cache-first loading, ``viewfinder models fetch``.
"""
