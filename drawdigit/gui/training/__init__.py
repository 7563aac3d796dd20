"""The training dialog's parts: a run-state model and the views that read it.

``state.RunState`` holds one run's state (phase, latest numbers, outcome, status line) and
says when it changes; the views only read it and send the user's requests back through
their own signals. ``TrainingDialog`` (``drawdigit.gui.training_dialog``) composes them and
owns start, pause and cancel:

- ``data_view``: the MNIST folder, the download, "MNIST" or "MNIST + my samples";
- ``settings_view``: presets, options and device, as a ``TrainConfig``;
- ``progress_view``: the status line, progress bar, numbers grid, and ``charts``;
- ``result_view``: the finished model's accuracy, confusion matrix, mistakes, use/discard;
- ``responsiveness``: how a run leaves the app responsive while the user draws;
- ``placement``: where the dialog opens (beside the main window, off its canvas).
"""
