"""What the loader takes from a landing folder: regular files inside it once they are stable; links,
special files and hidden entries are not read."""

from __future__ import annotations

import os
import time

from ingestion.loader import scan_landing


def test_only_regular_files_inside_the_folder_are_taken_links_and_special_files_are_refused(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    (landing / "2025" / "01").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_text("order_id\n")
    (landing / "2025" / "01" / "orders_2025-01-01.csv").write_text("order_id\n")
    (landing / "orders_2025-01-02.csv").write_text("order_id\n")
    (landing / "to_a_file.csv").symlink_to(outside / "secret.csv")
    (landing / "to_a_folder").symlink_to(outside)
    (landing / "dangling.csv").symlink_to(tmp_path / "nothing.csv")
    os.mkfifo(landing / "a_pipe.csv")
    (landing / ".orders_2025-01-03.csv.part").write_text("being uploaded")
    (landing / ".hidden").mkdir()
    (landing / ".hidden" / "orders.csv").write_text("order_id\n")

    found = scan_landing(landing)

    assert found.files == [landing / "2025" / "01" / "orders_2025-01-01.csv", landing / "orders_2025-01-02.csv"]
    assert found.waiting == {}
    assert {path.name: why.split(":")[0] for path, why in found.refused.items()} == {
        "a_pipe.csv": "not a regular file (a named pipe, socket or device)",
        "dangling.csv": f"a symbolic link (to {tmp_path / 'nothing.csv'})",
        "to_a_file.csv": f"a symbolic link (to {outside / 'secret.csv'})",
        "to_a_folder": f"a symbolic link (to {outside})",
    }
    assert found.refused[landing / "to_a_folder"].endswith("not followed; put the file itself in the landing folder")


def test_a_file_changed_within_the_stable_time_waits(tmp_path):
    (tmp_path / "orders_2025-01-01.csv").write_text("order_id\n")
    found = scan_landing(tmp_path, stable_seconds=0.5)
    assert found.files == [] and list(found.waiting) == [tmp_path / "orders_2025-01-01.csv"]
    assert 0 <= found.waiting[tmp_path / "orders_2025-01-01.csv"] < 0.5
    (result,) = found.results(0.5)
    assert (result.status, result.file_name) == ("waiting", "orders_2025-01-01.csv")
    assert result.error.endswith("loaded once unchanged for 0.5 s")
    time.sleep(0.6)
    assert scan_landing(tmp_path, stable_seconds=0.5).files == [tmp_path / "orders_2025-01-01.csv"]


def test_an_old_modification_time_does_not_make_a_fresh_copy_stable(tmp_path):
    path = tmp_path / "orders_2025-01-01.csv"
    path.write_text("order_id\n")
    os.utime(path, (time.time() - 3600, time.time() - 3600))  # as cp -p or rsync -t leave it
    assert list(scan_landing(tmp_path, stable_seconds=30).waiting) == [path]


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path):
    found = scan_landing(tmp_path / "missing")
    assert found.files == [] and found.refused == {tmp_path / "missing": "cannot be listed: No such file or directory"}


def test_the_sensor_s_cursor_keeps_handled_files_while_they_and_the_mappings_stay_the_same():
    from orchestration.sensors import LandingCursor

    states = {"/l/a.csv": [10, 1, 1], "/l/b.csv": [20, 2, 2]}
    cursor = LandingCursor.parse(None, "m1").advanced(states, ["/l/a.csv"])
    assert cursor.unhandled(states) == ["/l/b.csv"]
    assert cursor.unhandled({**states, "/l/a.csv": [11, 3, 3]}) == ["/l/a.csv", "/l/b.csv"]  # written to again
    assert LandingCursor.parse(cursor.dumps(), "m1") == cursor
    assert LandingCursor.parse(cursor.dumps(), "m2").unhandled(states) == ["/l/a.csv", "/l/b.csv"]  # a mapping changed
    assert cursor.advanced({"/l/b.csv": [20, 2, 2]}, []).handled == {}  # a.csv is gone
    # A cursor of the sensor before: every file's size and mtime, whether loaded or not.
    assert LandingCursor.parse('{"/l/a.csv": [10, 1]}', "m1").unhandled(states) == ["/l/a.csv", "/l/b.csv"]
