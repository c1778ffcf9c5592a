"""The review project: SQLite store of videos, classes, model versions, predicted and human
segments with provenance, review state; undoable edit commands; the single-writer lock; import /
export glue; fine-tune manifests. Never imports Qt: the UI observes it through thin adapters.
"""
