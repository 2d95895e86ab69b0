"""The priority gate: a click gets the model between a job's model steps, even inside one
output frame that takes many steps (a backward pass before frame 0)."""

from __future__ import annotations

import threading
import time

from labelme_sam2.core.tracking import between_model_steps, model_step_done
from ls_backend.gpu_gate import PriorityGate


def test_a_click_gets_in_between_the_steps_of_one_long_frame() -> None:
    gate = PriorityGate()
    events: list[str] = []
    holding = threading.Event()

    def job() -> None:
        # One turn of the gate, as StepwiseTracker takes it for one output frame: 40 steps.
        with gate.background(), between_model_steps(gate.yield_to_clicks):
            holding.set()
            for _ in range(40):
                time.sleep(0.02)  # a model step
                model_step_done()
        events.append("job frame done")

    worker = threading.Thread(target=job)
    worker.start()
    holding.wait(5)
    with gate.interactive():
        events.append("click")
    worker.join(10)
    assert events == ["click", "job frame done"]


def test_without_a_waiting_click_the_job_keeps_the_gate_and_hooks_are_per_thread() -> None:
    gate = PriorityGate()
    calls: list[str] = []
    with between_model_steps(lambda: calls.append("hook")):
        model_step_done()
        seen_elsewhere: list[int] = []
        other = threading.Thread(target=lambda: (model_step_done(), seen_elsewhere.append(1)))
        other.start()
        other.join()
    model_step_done()  # outside: no hook
    assert calls == ["hook"] and seen_elsewhere == [1]
    with gate.background():
        gate.yield_to_clicks()  # nobody waiting: returns at once, still holding
    with gate.interactive():
        pass
