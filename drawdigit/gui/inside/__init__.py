"""The "Look inside" window (issue 14): the network at work on the user's own drawing.

``window`` lays it out and shows pictures (``widgets``: its small parts); ``engine``
computes them in worker threads; ``render`` turns the network's arrays into RGB pictures
(numpy, no Qt).
"""

from drawdigit.gui.inside.window import InsideWindow

__all__ = ["InsideWindow"]
