"""The main window in parts; ``MainWindow`` composes them (see ``main``).

A map for a newcomer:

- ``main``      ``MainWindow``: composition, the recognition wiring (``_on_result``), the
                model's state, corrections (``correct`` / ``confirm``), the dialogs, About.
- ``actions``   ``WindowActions``: every QAction, its shortcut and tip, the menu bar, and
                which actions are enabled.
- ``document``  ``Document``: open / save / export / drag and drop, the file and "modified".
- ``finetune``  ``FinetuneController``: "Fine-tune on My Samples" on a worker thread, its
                progress in the status bar, the box that offers the new model.
- ``layout``    ``Composition``: the square paper, its tool row and the answer panel.
- ``settings``  QSettings: geometry, last folder, the "save confirmed samples" option.
- ``messages``  the window-modal, non-blocking message box every part uses.
"""

from drawdigit.gui.window.main import MainWindow

__all__ = ["MainWindow"]
