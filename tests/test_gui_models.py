"""The Models dialog lists every model the user has had, with its figures, and switches."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import Qt

from drawdigit.gui.models_view import ModelsDialog, recipe_text
from drawdigit.inference import FINETUNE_SOURCE
from drawdigit.model import DigitNet, ModelConfig
from drawdigit.store import (
    active_model_path,
    bundled_model_path,
    load_checkpoint,
    save_checkpoint,
)


def kept(name: str, seed: int, metadata: dict, head: dict | None = None) -> Path:
    torch.manual_seed(seed)
    path = active_model_path().parent / name
    save_checkpoint(path, DigitNet().state_dict(), ModelConfig(), metadata, head)
    return path


def texts(dialog: ModelsDialog) -> list[list[str]]:
    tree = dialog.tree
    return [
        [tree.topLevelItem(r).text(c) for c in range(tree.columnCount())]
        for r in range(tree.topLevelItemCount())
    ]


def test_models_are_listed_with_their_figures_and_switched(qtbot) -> None:
    trained = kept(
        "trained-20260101-000000.pt",
        1,
        {
            "source": "drawdigit train",
            "test_accuracy": 0.9912,
            "created": "2026-01-01T10:00:00+00:00",
            "epochs_completed": 3,
            "recipe": {"optimizer": "adam", "lr": 0.003, "epochs": 3, "batch_size": 128},
        },
    )
    from test_decide import _head

    kept(
        "set-aside-20260102-000000.pt",
        2,
        {"source": FINETUNE_SOURCE, "test_accuracy": "high", "finetune_samples": 24},
        _head(),
    )
    (trained.parent / "zz-foreign.pt").write_bytes(b"PK\x03\x04 not a model")
    dialog = ModelsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    rows = texts(dialog)
    bundled = load_checkpoint(bundled_model_path())
    assert rows[0][0] == "Bundled model (in use)" and "not a digit" not in rows[0][3]
    assert rows[0][1] == f"{bundled.metadata['test_accuracy']:.2%}"
    assert rows[1][0] == "Fine-tuned" and rows[1][1] == "—"  # a wrong-type accuracy: left out
    assert rows[1][3] == "on 24 of your samples"
    # a file from before every model had its own head: it answers, but says what it lacks
    assert rows[2][:2] == ["Trained", "99.12%"]
    assert rows[2][3] == "adam, lr 0.003, 3 epochs, batch 128 · cannot say 'not a digit'"
    assert "made before" in dialog.tree.topLevelItem(2).toolTip(3)
    assert "2026" in rows[2][2] and "T10" not in rows[2][2]  # a human date
    assert rows[3][0] == "zz-foreign.pt" and rows[3][3].startswith("Cannot be used: ")

    dialog.select(3)
    assert dialog.selected() is None  # an unusable file cannot be chosen
    dialog.select(0)
    assert not dialog.use_button.isEnabled()  # in use already
    dialog.select(2)
    assert dialog.use_button.isEnabled()
    with qtbot.waitSignal(dialog.modelActivated):
        qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert active_model_path().read_bytes() == trained.read_bytes()
    assert load_checkpoint(active_model_path()).metadata["test_accuracy"] == 0.9912
    assert [row[0] for row in texts(dialog)][:3] == [
        "Bundled model",
        "Fine-tuned",
        "Trained (in use)",
    ]

    # And back to the bundled one: the trained file stays, nothing is copied twice.
    dialog.select(0)
    assert dialog.use_selected()
    assert not active_model_path().exists() and trained.is_file()
    assert texts(dialog)[0][0] == "Bundled model (in use)" and len(texts(dialog)) == 4


def test_recipes_of_the_wrong_type_are_left_out() -> None:
    assert recipe_text({"recipe": {"optimizer": 3, "lr": "fast", "epochs": True}}) == ""
    assert recipe_text({"recipe": [1, 2]}) == "" and recipe_text({}) == ""
    assert recipe_text({"recipe": "test"}) == "test"
