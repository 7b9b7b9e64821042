"""Every call to a model service: one HTTP stack (aiohttp), one retry policy with one
Retry-After parser, one error tree (:mod:`viewfinder.errors`), keys and their masking,
prices, the budget guard and the device choice; a module per provider for its wire protocol.

Layer: imports study/, store/ and errors only; generate/ and the judge build on it.
"""
