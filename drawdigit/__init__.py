"""drawdigit: draw a digit and watch a small CNN recognise it; retrain it on MNIST."""

import os

__version__ = "0.1.0"

# Where the bundled network's knowledge comes from, said wherever its weights are shown (Help >
# About, README, THIRD-PARTY-NOTICES.md). Plain text: no import, no markup.
DATA_CREDIT = (
    "The network learnt from MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0) and from pen-drawn"
    " digits, letters and symbols of the UNIPEN on-line handwriting benchmark, train_r01_v07"
    " (Guyon, Schomaker, Plamondon, Liberman, Janet: UNIPEN project of on-line data exchange"
    " and recognizer benchmarks, ICPR 1994; CC BY 4.0), which also ship with it as 28x28"
    " images."
)

# numpy's OpenBLAS runs the recognition's small matrix products (numpy_net). With its
# default of one spinning thread per core it is 3x slower on a busy 2-core machine
# (measured: 300 files in `drawdigit predict`, 2.16 s with one thread, 6.16 s with two),
# and it competes with the GUI thread and training. It reads this once, when numpy is
# first imported, which in the app is after this line; an explicit setting wins. torch's
# own thread pools (training: MKL and OpenMP in the x86 wheels) do not read it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
