"""Work that runs off the owner's thread: the one background worker (background.py) and the runs
built on it (opening videos, feature extraction, the scoring and fine-tuning child processes,
the training set a fine-tuning child builds) with their process policy. Above `project/`,
`media/` and `sdanet/`, below `session/`; never imports Qt, and imports torch only inside the
children and workers.
"""
