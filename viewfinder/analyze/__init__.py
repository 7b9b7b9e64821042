"""Image analysis: analyzers measure each stored image; the runner batches, resumes and stores.

- ``base``: the Analyzer interface (name, version, measurement specs, batched ``analyze``).
- ``registry``: ``ANALYZERS``, name -> factory (the one composition root).
- ``runner``: ``run_analysis`` (``viewfinder analyze``).
- ``analyzers``: pixels, clip, faces, judge (one module each, on ``base`` only).
- ``models``: hub ids or local paths, cache-first loading, ``viewfinder models fetch``.
"""
