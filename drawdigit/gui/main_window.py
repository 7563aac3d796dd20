"""Where the app, the self-test and the benchmarks import the main window from.

The window itself lives in ``drawdigit.gui.window``, one module per part (its docstring has
the map). This name stays so that ``from drawdigit.gui.main_window import MainWindow`` keeps
working.
"""

from drawdigit.gui.window.main import MainWindow

__all__ = ["MainWindow"]
