"""The Qt desktop app: the drawing window, live recognition, and the training dialog.

Only this package imports Qt. Importing it (and ``drawdigit.gui.app``) must stay cheap: torch
is loaded in a background thread after the window is on screen, never at import time.
"""
