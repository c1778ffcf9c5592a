"""The feature-set loader warns about a subset only when it had to guess one.

A data set with a single subset used to log "only subset ...; it is used for both training and
testing" even when the user had named that subset for both roles: a warning about a decision
nobody guessed. Now naming both (on the command line or in the data) is silent, and naming one
warns only about the role that was filled in.
"""

from __future__ import annotations

import logging

from sdanet_gui.data.feature_sets import choose_subsets

LOGGER = "sdanet_gui.data.feature_sets"


def _choose(caplog, *args):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        picked = choose_subsets(*args)
    return picked, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_naming_the_only_subset_for_both_roles_is_silent(caplog):
    picked, warnings = _choose(caplog, {"clips"}, "clips", "clips", {}, None, "data.json")
    assert picked == ("clips", "clips")
    assert warnings == []
    picked, warnings = _choose(caplog, {"clips"}, None, None,
                               {"train_subset": "clips", "test_subset": "clips"}, None, "data.json")
    assert picked == ("clips", "clips")
    assert warnings == []


def test_a_guessed_role_is_named_in_the_warning(caplog):
    picked, warnings = _choose(caplog, {"clips"}, "clips", None, {}, None, "data.json")
    assert picked == ("clips", "clips")
    assert len(warnings) == 1 and "testing" in warnings[0] and "both" not in warnings[0]
    picked, warnings = _choose(caplog, {"clips"}, None, None, {}, None, "data.json")
    assert picked == ("clips", "clips")
    assert len(warnings) == 1 and "both training and testing" in warnings[0]
