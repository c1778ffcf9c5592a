"""What a review session is, without Qt: the open project, model versions and their scores,
post-processing, scoring and fine-tuning runs, and the change summary, with plain events the
window and the command line both listen to. Cheap to import (the window imports it at start-up):
numpy, torch and the engine are imported inside functions.
"""
