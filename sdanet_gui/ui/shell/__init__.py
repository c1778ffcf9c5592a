"""The application shell: the QApplication, the main window that builds and wires the rooms to the
session, its menus, the remembered layout and the recent files.
"""
