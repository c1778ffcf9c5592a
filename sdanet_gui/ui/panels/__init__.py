"""Docks and dialogs around the review surface: video list and segment table, post-processing,
training dock and the fine-tuning flow, model versions, export, feature extraction, locate,
shortcuts, error and about boxes.
"""
