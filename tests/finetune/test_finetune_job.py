"""The fine-tuning child process (`start_job`): Stop keeps the weights so far, Cancel discards,
a killed child becomes a synthesized "failed" message, and the base checkpoint is never touched.
Each test spawns one real child (torch import included), so there are only three."""

from __future__ import annotations

import time

import pytest

from sdanet_gui.jobs.finetune_job import FINAL_TYPES, FinetuneRequest, start_job
from sdanet_gui.sdanet.checkpoint import load_checkpoint

LONG = 100_000      # steps: far more than a test waits for; every run here ends by request
DEADLINE_S = 180    # generous: the CI machine may be loaded; a passing run takes seconds


def _request(world, out) -> FinetuneRequest:
    return FinetuneRequest(str(world["manifest"]), str(world["base"]), str(out), steps=LONG,
                           seed=1, threads=1)


def _until(job, predicate) -> list[dict]:
    """Poll the job's messages until one satisfies `predicate` (returned list ends with it)."""
    seen, end = [], time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        msg = job.poll(timeout=0.5)
        if msg is None:
            continue
        seen.append(msg)
        if predicate(msg):
            return seen
        assert msg["type"] not in FINAL_TYPES, msg
    pytest.fail(f"no expected message within {DEADLINE_S} s; got {[m['type'] for m in seen]}")


def _is_progress(msg) -> bool:
    return msg["type"] == "progress"


def _is_final(msg) -> bool:
    return msg["type"] in FINAL_TYPES


@pytest.fixture
def job_in(ft_world, tmp_path):
    jobs = []

    def start(out):
        job = start_job(_request(ft_world, out))
        jobs.append(job)
        return job

    yield start
    for job in jobs:
        job.kill()


def test_stop_keeps_the_weights_so_far_and_finishes_with_done(ft_world, tmp_path, job_in):
    out = tmp_path / "stopped.pt"
    job = job_in(out)
    first = _until(job, _is_progress)
    assert first[0]["type"] == "started" and first[0]["steps"] == LONG
    assert not out.exists()
    job.stop()
    rest = _until(job, _is_final)
    done = rest[-1]
    assert done["type"] == "done" and done["stopped"] is True, done
    assert [m["type"] for m in rest[-2:]] == ["eval", "done"] and rest[-2]["phase"] == "after"
    steps_done = done["metrics"]["steps_done"]
    assert 1 <= steps_done < LONG
    last_progress = [m for m in rest if m["type"] == "progress"][-1]
    assert last_progress["step"] == steps_done            # the last step is always reported
    state, meta = load_checkpoint(out)
    assert meta.metrics["finetune"]["stopped"] and meta.step == steps_done and state
    job.join(30)
    assert not job.is_alive() and job.exitcode == 0
    assert job.poll() is None                              # exactly one final message


def test_cancel_discards_the_run_and_writes_nothing(ft_world, tmp_path, job_in):
    out = tmp_path / "cancelled.pt"
    job = job_in(out)
    _until(job, _is_progress)
    job.cancel()
    final = _until(job, _is_final)[-1]
    assert final == {"type": "cancelled"}
    job.join(30)
    assert not job.is_alive() and not out.exists()
    assert list(tmp_path.iterdir()) == []                 # no temporary file left either


def test_a_killed_child_becomes_a_failed_message_and_the_base_stays_untouched(ft_world, tmp_path, job_in):
    base_bytes = ft_world["base"].read_bytes()
    out = tmp_path / "killed.pt"
    job = job_in(out)
    _until(job, _is_progress)
    job.kill()
    assert not job.is_alive()
    final = _until(job, _is_final)[-1]
    assert final["type"] == "failed" and final["kind"] == "crash"
    assert "was killed (signal 9, SIGKILL)" in final["message"] and "previous model stays active" in final["message"]
    assert job.poll() is None
    assert not out.exists() and ft_world["base"].read_bytes() == base_bytes
