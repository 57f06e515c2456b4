"""load_checkpoint's errors that are no damaged file pass as they are (a missing file, a
folder, a device this machine lacks); a legacy pickle whose string is no UTF-8 is named as a
file torch cannot read."""

from __future__ import annotations

import re

import pytest
import torch

from dtc.nn.training import load_checkpoint, save_checkpoint


def test_a_missing_file_and_a_folder_are_named_by_the_os(tmp_path):
    missing = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError) as info:
        load_checkpoint(missing)
    assert info.value.filename == str(missing)
    with pytest.raises(IsADirectoryError) as info:
        load_checkpoint(tmp_path)
    assert info.value.filename == str(tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the device exists here")
def test_a_device_this_machine_lacks_is_no_unreadable_file(tmp_path):
    path = tmp_path / "w.pt"
    save_checkpoint(path, {"w": torch.zeros(2)})
    with pytest.raises(RuntimeError, match="torch.cuda.is_available") as info:
        load_checkpoint(path, map_location="cuda")
    assert not isinstance(info.value, ValueError) and "checkpoint" not in str(info.value)
    assert torch.equal(load_checkpoint(path)["w"], torch.zeros(2))


def test_a_legacy_pickle_with_a_string_that_is_no_utf8_is_named(tmp_path):
    path = tmp_path / "bad.pt"
    # protocol 2, BINUNICODE of the 2 bytes ff fe (no UTF-8), STOP
    path.write_bytes(b"\x80\x02X\x02\x00\x00\x00\xff\xfe.")
    expected = f"checkpoint {str(path)!r}: torch cannot read it (UnicodeDecodeError: "
    with pytest.raises(ValueError, match="^" + re.escape(expected)):
        load_checkpoint(path)
