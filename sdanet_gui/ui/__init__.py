"""The Qt layer, in three rooms: `review/` (the review surface: player, timeline, lanes, curves,
editing, keys), `panels/` (docks and dialogs) and `shell/` (the application, the main window,
menus, remembered layout and recent files). `relay.py` is the one hop from background work to
the UI thread. The only package that imports Qt; widgets observe the session (`session/`) and
the project, and never hold data the project store owns.
"""
