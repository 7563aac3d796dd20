"""Entry point of the frozen app (PyInstaller runs this file as ``__main__``).

Kept tiny and outside the package so that PyInstaller sees ``drawdigit`` as an ordinary
package (relative imports, ``drawdigit.__file__``) and so that starting the app imports only
what ``drawdigit.cli`` needs before the window is shown: torch is imported later, by the GUI's
model loader or by the command that needs it.
"""

import multiprocessing
import sys

from drawdigit.cli import main

if __name__ == "__main__":
    # A frozen app re-executes itself for child processes on Windows and macOS ("spawn");
    # without this, a child would open a second window instead of running its task.
    multiprocessing.freeze_support()
    sys.exit(main())
