"""The Qt layer: main window, player, timeline, docks, dialogs, and the QThread workers that run
the engine, media and project layers off the UI thread. The only package that imports Qt; it
observes state owned by `project/` and never holds data the project store owns.
"""
