"""The adopt rule (session/adoption.py): a new version is used only when measurably better on
enough held-out material, or when asked; otherwise the reason says why, in the user's words."""

from __future__ import annotations

import pytest

from sdanet_gui.sdanet.held_out import ClassFigures, HeldOutReport
from sdanet_gui.session.adoption import decide


def report(before=0.30, after=0.40, interval=(0.02, 0.18), videos=4, segments=20, per_class=None):
    return HeldOutReport(before, after, list(interval) if interval else None, "after - before",
                         videos, segments, [f"v{i}" for i in range(videos)], per_class or {}, 2000)


def test_measurably_better_is_adopted_and_says_on_what():
    d = decide(report(), current="demo")
    assert d.adopt and d.better and d.measurable
    assert d.reason == ("adopted: measurably better: held-out average mAP 30.0 → 40.0 % (+10.0, 95 % "
                        "interval +2.0 to +18.0) on 4 held-out videos, 20 segments")


@pytest.mark.parametrize("videos, segments", [(1, 30), (2, 30), (5, 9)])
def test_too_little_held_out_decides_nothing(videos, segments):
    d = decide(report(videos=videos, segments=segments, interval=(0.1, 0.2)), current="demo")
    assert not d.adopt and not d.measurable
    assert d.reason.startswith("'demo' stays active: too little held out to tell")
    assert "at least 3 fully reviewed videos and 10 segments" in d.reason


def test_an_interval_reaching_below_zero_is_not_better_and_worse_is_never_adopted():
    d = decide(report(after=0.33, interval=(-0.04, 0.09)), current="demo")
    assert not d.adopt and d.better is False and "not measurably better" in d.reason
    # the demo scenario of the issue: 20.2 -> 0.0 must leave the old model in use
    d = decide(report(before=0.202, after=0.0, interval=(-0.35, -0.05)), current="demo")
    assert not d.adopt and "20.2 → 0.0" in d.reason and "'demo' stays active" in d.reason


def test_a_class_made_clearly_worse_is_named_and_blocks_adoption():
    per_class = {"Flash": ClassFigures(0.60, 0.40, [-0.35, -0.05], 6),      # clearly worse
                 "Slide": ClassFigures(0.20, 0.50, [0.1, 0.5], 8),
                 "Spin": ClassFigures(0.50, 0.42, [-0.3, 0.1], 6)}        # worse, but could be noise
    d = decide(report(per_class=per_class), current="demo")
    assert not d.adopt and d.better and d.worse_classes == ["Flash"]
    assert "clearly worse on Flash (AP 60.0 → 40.0)" in d.reason and "Spin" not in d.reason


def test_policies_always_and_never_and_nothing_to_compare_with():
    assert decide(report(after=0.1, interval=(-0.3, -0.1)), "always").adopt
    d = decide(report(), "never", current="demo")
    assert not d.adopt and d.reason.startswith("not adopted as asked (--adopt never)")
    cold = decide(report(before=None, interval=(0.2, 0.5)), current="the current model")
    assert cold.adopt and "no usable model was active to compare with" in cold.reason
    nothing = decide(None, current="demo")
    assert not nothing.adopt and "nothing was held out" in nothing.reason
    assert decide(report().to_dict()).adopt                      # the dict a message carries
    with pytest.raises(ValueError, match="if-better, always, never"):
        decide(report(), "sometimes")
