"""The test suite: a regular package, so ``tests.servers`` always means these servers (a wheel
that installs a top-level ``tests`` package into site-packages cannot shadow it)."""
