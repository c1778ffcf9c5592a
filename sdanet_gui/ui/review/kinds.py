"""The integer codes the timeline draws segments by: a model's prediction first, then each human
provenance in the project schema's order (project/schema.PROVENANCES, the one definition).

Why integers: a lane holds thousands of segments as numpy arrays and picks outline colours by
code (theme.LaneStyle). The editing controller turns a stored segment's provenance into its code
(KIND_CODE); the lanes and the theme only ever see codes.
"""

from __future__ import annotations

from ...project.schema import PROVENANCES

KINDS = ("predicted",) + PROVENANCES
KIND_CODE = {k: i for i, k in enumerate(KINDS)}
PREDICTED = KIND_CODE["predicted"]
IMPORTED = KIND_CODE["imported"]
ACCEPTED = KIND_CODE["accepted-prediction"]
EDITED = KIND_CODE["edited"]
ADDED = KIND_CODE["added"]
CONFIRMED = KIND_CODE["confirmed"]
HUMAN_KINDS = tuple(KIND_CODE[p] for p in PROVENANCES)
