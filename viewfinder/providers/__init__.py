"""Every call to a model service, for generation and for the VLM judge.

One HTTP stack (:mod:`.http`: aiohttp, ``send``, ``json_object``), one retry policy with one
Retry-After parser and one set of retryable statuses (:mod:`.retry`), one error tree
(:mod:`viewfinder.errors`: retry / fail this item / stop the run), keys and their masking
(:mod:`.keys`), prices (:mod:`.pricing`, each provider module declares ``PRICES``), the budget
guard (:mod:`.budget`) and the device choice for local models (:mod:`.device`).

A module per provider speaks its wire protocol: image generation in :mod:`.fal`,
:mod:`.openai_images`, :mod:`.replicate`, :mod:`.bfl` (the key-authenticated ones share
:mod:`.api`) and :mod:`.diffusers_local`; vision chat for the judge in :mod:`.openai_chat`,
:mod:`.fal_vlm` and :mod:`.hf_local` (types in :mod:`.chat`). The data they exchange with
generation is in :mod:`.types`.

Layer: imports study/, store/ and errors only; generate/ and the judge build on it.
"""
