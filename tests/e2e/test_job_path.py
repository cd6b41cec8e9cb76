"""The job path in the real window: results land in the project they were asked for, the
stored queue is offered again, the queue panel steers, and a worker process can crash."""

from __future__ import annotations

from contextlib import closing

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.core.jobs import JobState
from studio.core.project import Project
from studio.core.project_queue import QueueEntry
from studio.core.registry import Registry
from studio.core.worker_process import ProcessExecutor
from studio.ui.main_window import MainWindow
from tests.e2e.test_main_window import press_generate
from tests.e2e.test_projects import generate, second_window


def test_a_rerun_lands_in_its_own_project_after_switching(window, qtbot, project, tmp_path):
    first = generate(window, qtbot, "slow", steps=150)
    (original,) = first.item_ids
    with qtbot.waitSignal(window.jobs.job_finished, timeout=30_000) as done:
        window.items.rerun(original)
        qtbot.waitUntil(lambda: window.runner.running is not None, timeout=5_000)
        assert window.session.open(tmp_path / "other.studio", create=True)
        other = window.session.project
        (other_item,) = other.add_results(project_results(window))  # an unrelated item 1
    status = done.args[0]
    assert status.state is JobState.DONE and status.project.path == project.path
    assert other.count() == 1 and other.rows([other_item])[0].parent is None
    assert [i.key for i in window.canvas.image_items()] == [other_item]  # nothing mixed in
    assert window.gallery.model.rowCount() == 1
    assert "into 'test'" in window.status_label.text()
    with closing(Project.open(project.path)) as again:
        (made,) = again.rows(status.item_ids)
        assert made.parent == original and again.count() == 2


def shown(qtbot, window):
    from PySide6.QtWidgets import QApplication

    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window


def project_results(window):
    generator = window.registry.get("solid")
    return generator.run(generator.make_request({"count": 1, "seed": 3}), _Ctx())


class _Ctx:
    def progress(self, *args):
        pass


def test_jobs_left_in_a_project_are_offered_paused_and_resume(window, qtbot, tmp_path):
    path = tmp_path / "left.studio"
    with closing(Project.open(path, create=True)) as left:
        solid = window.registry.get("solid")
        left.queue.add(
            [QueueEntry(solid.make_request({"count": 1, "seed": s}), f"left {s}") for s in (1, 2)]
        )
    assert window.session.open(path)
    qtbot.waitUntil(lambda: window.banner.action.isVisible(), timeout=5_000)
    assert "2 job(s) were left unfinished" in window.banner.label.text()
    assert window.jobs.paused and window.queue_panel.pause_button.text() == "Resume"
    qtbot.wait(200)
    assert window.session.project.count() == 0  # waiting until the user says so
    qtbot.mouseClick(window.banner.action, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.canvas.image_items()) == 2, timeout=10_000)
    assert len(window.session.project.queue) == 0 and len(window.canvas.image_items()) == 2


def test_closing_with_work_queued_keeps_it_for_next_time(qtbot, models_dir, fakes, tmp_path):
    path = tmp_path / "busy.studio"
    window = shown(qtbot, second_window(qtbot, models_dir, fakes, Project.open(path, create=True)))
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 5000})
    press_generate(window)
    qtbot.waitUntil(lambda: window.runner.running is not None, timeout=5_000)
    window.prompt_panel.select("solid")
    press_generate(window)
    window.close()
    with closing(Project.open(path)) as reopened:
        titles = [s.entry.request.generator for s in reopened.queue.entries()]
    assert titles == ["slow", "solid"]  # the stopped running job, then the waiting one


def test_the_queue_panel_pauses_reorders_removes_and_clears(window, qtbot, fakes):
    panel = window.queue_panel
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 60})
    press_generate(window)
    qtbot.waitUntil(lambda: window.runner.running is not None, timeout=5_000)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert window.jobs.paused
    window.prompt_panel.select("solid")
    for seed in (1, 2, 3, 4):
        window.prompt_panel.form().set_values({"seed": seed, "count": 1})
        press_generate(window)
    waiting = window.jobs.waiting_ids()
    assert len(waiting) == 4 and panel.row_ids()[1:5] == waiting  # run order, top down
    _select(panel, waiting[3])
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    assert window.jobs.waiting_ids() == [waiting[0], waiting[1], waiting[3], waiting[2]]
    assert panel.row_ids()[1:5] == window.jobs.waiting_ids()
    _drag(qtbot, panel, window.jobs.waiting_ids()[3], 1)  # onto the first waiting row
    assert window.jobs.waiting_ids()[0] == waiting[2]
    _select(panel, waiting[0], waiting[1])
    panel.tree.setFocus()
    QTest.keyClick(panel.tree, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(window.jobs.waiting_ids()) == 2, timeout=5_000)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)  # resume
    statuses = window.jobs.statuses.values()
    qtbot.waitUntil(lambda: all(s.state.finished for s in statuses), timeout=10_000)
    seeds = [r.params["seed"] for r in fakes["solid"].runs]
    assert seeds == [3, 4]
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.tree.topLevelItemCount() == 0


def _select(panel, *job_ids):
    panel.tree.clearSelection()
    for job_id in job_ids:
        panel.rows[job_id].setSelected(True)


def _drag(qtbot, panel, job_id, row):
    # A real drag through Qt's drag loop cannot run offscreen; the drop is what decides.
    panel.tree.setCurrentItem(panel.rows[job_id])
    target = panel.tree.visualItemRect(panel.tree.topLevelItem(row)).center()
    panel._dropped(job_id, panel.tree.indexOfTopLevelItem(panel.tree.itemAt(target)))


def test_a_worker_process_runs_jobs_and_survives_a_crashing_plugin(qtbot, models_dir, project):
    from tests import fakes

    registry = fakes.registry()
    executor = ProcessExecutor("cpu", models_dir, registry="tests.fakes:registry")
    window = MainWindow(registry, executor, models_dir, project=project)
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.shutdown())
    shown(qtbot, window)
    window.prompt_panel.select("crashing")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=30_000) as crashed:
        press_generate(window)
    assert crashed.args[0].state is JobState.FAILED
    assert "stopped unexpectedly" in window.banner.label.text()
    window.prompt_panel.select("solid")
    window.prompt_panel.form().set_values({"count": 3, "seed": 5})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=30_000) as done:
        press_generate(window)
    assert done.args[0].state is JobState.DONE and project.count() == 3
    assert len(window.canvas.image_items()) == 3


assert Registry and QPoint  # imported for the readers of these tests' types
