"""Status ordering and the stored form of a phase outcome."""

from __future__ import annotations

from crm_core.status import PhaseResult, Status, worst


def test_worst_is_error_then_warning_then_ok() -> None:
    assert worst([Status.OK, Status.WARNING, Status.OK]) is Status.WARNING
    assert worst([Status.WARNING, Status.ERROR, Status.OK]) is Status.ERROR
    assert worst([Status.OK]) is Status.OK
    assert worst([]) is Status.OK


def test_phase_result_round_trips_and_reads_old_counters() -> None:
    result = PhaseResult(Status.WARNING, "3/3 stores", ("store A817: download partial: HTTP 500",))
    assert PhaseResult.from_json(result.as_json()) == result
    # Rows stored before outcomes were kept: counts of events per status.
    assert PhaseResult.from_json({"ok": 4, "warning": 1, "error": 0}).status is Status.WARNING
    assert PhaseResult.from_json({"ok": 4, "warning": 1, "error": 2}).status is Status.ERROR
    assert PhaseResult.from_json({"ok": 4, "warning": 0, "error": 0}).status is Status.OK
