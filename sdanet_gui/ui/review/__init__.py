"""The review surface: player, timeline (score curves, segment lanes, time axis), editing with undo,
the review queue, the class palette, the keymap and the timeline colours.
"""
