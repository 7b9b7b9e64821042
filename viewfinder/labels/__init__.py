"""People in the loop: runs from images made elsewhere, reference labels, the review page.

- :mod:`~viewfinder.labels.importer`: ``viewfinder import`` (images + prompts file -> a run).
- :mod:`~viewfinder.labels.label_file`: reference labels from a CSV.
- :mod:`~viewfinder.labels.questions`: the canonical questions and answers people label with.
- :mod:`~viewfinder.labels.sample`: the stratified review sample.
- :mod:`~viewfinder.labels.review`: the review page (a Starlette app on uvicorn).

Agreement with people and the corrected rates are pure statistics in :mod:`viewfinder.score`.
"""
