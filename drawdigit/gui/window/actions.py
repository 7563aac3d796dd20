"""Every command of the main window as a ``QAction``, and the menu bar built from them.

The actions only name, describe and bind: each one's slot lives with the part that does the
work (the document, the canvas, the fine-tune controller, the window). Shortcuts are added
to the window itself, so they work while the menu bar is hidden; which actions are enabled
is decided in one place, ``update_enabled``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMenu, QWidget

from drawdigit.gui.icons import line_icon
from drawdigit.gui.window.settings import save_confirmed_samples, set_save_confirmed_samples

if TYPE_CHECKING:
    from drawdigit.gui.window.main import MainWindow

Shortcut = QKeySequence | QKeySequence.StandardKey | str


def make_action(
    owner: QWidget,
    text: str,
    slot: Callable[..., object],
    shortcuts: Sequence[Shortcut] = (),
    tip: str = "",
    icon: QIcon | None = None,
) -> QAction:
    """An action with its shortcuts (standard keys expanded, duplicates dropped), a status
    tip, a tooltip naming the first shortcut, and an icon when the theme has one."""
    action = QAction(text, owner)
    keys: list[QKeySequence] = []
    for shortcut in shortcuts:
        if isinstance(shortcut, QKeySequence.StandardKey):
            keys.extend(QKeySequence.keyBindings(shortcut))
        else:
            keys.append(QKeySequence(shortcut))
    unique: list[QKeySequence] = []
    for key in keys:
        if not key.isEmpty() and key not in unique:
            unique.append(key)
    action.setShortcuts(unique)
    if tip:
        action.setStatusTip(tip)
        shortcut_text = unique[0].toString(QKeySequence.SequenceFormat.NativeText) if unique else ""
        action.setToolTip(f"{tip} ({shortcut_text})" if shortcut_text else tip)
    if icon is not None and not icon.isNull():
        action.setIcon(icon)
    action.triggered.connect(slot)
    owner.addAction(action)  # shortcuts work even with the menu bar hidden
    return action


FINETUNE_TIP = "Teach the model your handwriting (a few seconds)"
# Why fine-tuning is greyed out, and the one way to change that from the window.
FINETUNE_NEEDS_SAMPLES_TIP = (
    "No samples yet: draw a digit, then type the right digit (0-9) to keep it as a sample"
)


class WindowActions:
    """The window's actions by name (``open``, ``save``, ``undo``, ``clear``, ``finetune``…).

    Built once the window's parts exist; the menus are built by ``build_menus``.
    """

    def __init__(self, window: MainWindow) -> None:
        std = QKeySequence.StandardKey
        theme = QIcon.ThemeIcon
        document, canvas = window.document, window.canvas

        act = partial(make_action, window)  # every action belongs to the window

        # File
        self.new = act(
            "&New",
            document.new_drawing,
            [std.New],
            "Start a new drawing",
            QIcon.fromTheme(theme.DocumentNew),
        )
        self.open = act(
            "&Open…",
            document.open_file_dialog,
            [std.Open],
            "Open a drawing or an image",
            QIcon.fromTheme(theme.DocumentOpen),
        )
        self.save = act(
            "&Save",
            document.save,
            [std.Save],
            "Save the drawing as a strokes file",
            QIcon.fromTheme(theme.DocumentSave),
        )
        self.save_as = act(
            "Save &As…",
            document.save_as_dialog,
            [std.SaveAs],
            "Save the drawing under a new name",
            QIcon.fromTheme(theme.DocumentSaveAs),
        )
        self.export_drawing = act(
            "&Export Drawing as PNG…",
            document.export_drawing_dialog,
            ["Ctrl+E"],
            "Save the drawing as a picture",
        )
        self.export_input = act(
            "Export &Model Input as PNG…",
            document.export_input_dialog,
            ["Ctrl+Shift+E"],
            "Save the 28×28 image the network sees",
        )
        self.quit = act("&Quit", window.close, [std.Quit, "Ctrl+Q"], "Quit drawdigit")
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)

        # Edit
        self.undo = act(
            "&Undo",
            window.undo,
            [std.Undo],
            "Undo the last stroke or correction",
            line_icon("undo"),
        )
        self.redo = act("&Redo", canvas.redo, [std.Redo, "Ctrl+Shift+Z"], "Redo", line_icon("redo"))
        self.eraser = act(
            "&Eraser",
            canvas.set_eraser_mode,
            ["E"],
            "Erase with the left button (the right button always erases)",
            line_icon("eraser"),
        )
        self.eraser.setCheckable(True)
        self.clear = act(
            "C&lear",
            canvas.clear,
            [std.Delete, "Esc", "Backspace"],
            "Clear the canvas",
            line_icon("clear"),
        )

        # Model
        self.model_info = QAction("Model: loading…", window)
        self.model_info.setEnabled(False)
        self.reload_model = act(
            "&Reload Model", window.reload_model, ["F5"], "Load the model in use again"
        )
        self.restore_model = act(
            "Restore &Bundled Model…",
            window.restore_bundled_model,
            [],
            "Go back to the model that came with drawdigit",
        )
        self.models = act(
            "&Models…",
            window.open_models_dialog,
            [],
            "The models you have had: use one of them again",
        )
        self.look_inside = act(
            "&Look Inside…",
            window.open_inside_window,
            ["Ctrl+I"],
            "See where the network looked, what each layer sees, and its nearest memories",
        )
        self.train = act(
            "&Train…", window.open_training_dialog, ["Ctrl+T"], "Train the network on MNIST"
        )
        self.samples = act("My &Samples…", window.open_samples_dialog, [], "Your labelled drawings")
        self.finetune = act("&Fine-tune on My Samples", window.finetune.start, [], FINETUNE_TIP)
        self.save_confirmed = act(
            "Save &Confirmed Drawings",
            set_save_confirmed_samples,
            [],
            "Enter confirms a right guess; also keep it as a sample when this is on",
        )
        self.save_confirmed.setCheckable(True)
        self.save_confirmed.setChecked(save_confirmed_samples())
        # Correct: typing the right digit saves the drawing as a sample with that label.
        self.correct = [
            act(f"Correct to {digit}", lambda _=False, d=digit: window.correct(d), [str(digit)])
            for digit in range(10)
        ]
        self.confirm = act(
            "Confirm Guess", window.confirm, ["Return", "Enter"], "The guess is right"
        )

        # Help
        self.about = act("&About drawdigit", window.show_about)
        self.about.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_qt = act("About &Qt", window.show_about_qt)
        self.about_qt.setMenuRole(QAction.MenuRole.AboutQtRole)

        self.samples_menu = QMenu("Open &Sample", window)
        self.samples_menu.aboutToShow.connect(lambda: document.fill_samples_menu(self.samples_menu))

    def build_menus(self, window: MainWindow) -> None:
        """File, Edit, Model and Help in the window's menu bar."""
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new, self.open])
        file_menu.addMenu(self.samples_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save, self.save_as])
        file_menu.addSeparator()
        file_menu.addActions([self.export_drawing, self.export_input])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo, self.redo])
        edit_menu.addSeparator()
        edit_menu.addActions([self.eraser, self.clear])

        model_menu = bar.addMenu("&Model")
        model_menu.addAction(self.model_info)
        model_menu.addSeparator()
        model_menu.addAction(self.look_inside)
        model_menu.addSeparator()
        model_menu.addActions([self.train, self.models, self.reload_model, self.restore_model])
        model_menu.addSeparator()
        model_menu.addActions([self.samples, self.finetune, self.save_confirmed])
        model_menu.setToolTipsVisible(True)  # a greyed-out Fine-tune says why

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.about, self.about_qt])

    def update_finetune(self, *, samples: int, running: bool) -> None:
        """Fine-tuning needs samples and runs one at a time; without samples the tips say how
        to add one, instead of a run that can only fail."""
        self.finetune.setEnabled(samples > 0 and not running)
        tip = FINETUNE_TIP if samples > 0 else FINETUNE_NEEDS_SAMPLES_TIP
        self.finetune.setToolTip(tip)
        self.finetune.setStatusTip(tip)

    def update_enabled(
        self,
        stack: QUndoStack,
        *,
        has_ink: bool,
        picture: bool,
        has_model_input: bool,
        user_model: bool,
        model_loading: bool,
        correction: bool = False,
    ) -> None:
        """Enable what makes sense now; the undo/redo tooltips say what they would undo
        (``correction``: a correction of the drawing shown, which Undo takes back first)."""
        self.undo.setEnabled(stack.canUndo() or correction)
        self.redo.setEnabled(stack.canRedo())
        # The tool row keeps short labels; what would be undone goes in the tooltips.
        undo_text, redo_text = stack.undoText(), stack.redoText()
        if correction:
            undo_text = "Correction"
        self.undo.setToolTip(f"Undo {undo_text.lower()} (Ctrl+Z)" if undo_text else "Undo")
        self.redo.setToolTip(f"Redo {redo_text.lower()} (Ctrl+Shift+Z)" if redo_text else "Redo")
        self.clear.setEnabled(has_ink)
        self.save.setEnabled(has_ink and not picture)
        self.save_as.setEnabled(has_ink and not picture)
        self.export_drawing.setEnabled(has_ink)
        self.export_input.setEnabled(has_model_input)
        self.restore_model.setEnabled(user_model)
        self.reload_model.setEnabled(not model_loading)
