"""The pipeline registry is the one source of pipeline facts: the seeded database must agree with it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_core.db.engine import session_factory
from crm_core.db.models import EmailTemplate, NotificationProfile, Pipeline
from crm_core.pipelines import (
    DAILY,
    PIPELINES,
    get_pipeline,
    pipeline_for_document_type,
)


async def test_seeded_notification_metadata_matches_the_registry(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        pipelines = {p.code: p for p in (await session.execute(select(Pipeline))).scalars()}
        profiles = (await session.execute(select(NotificationProfile))).scalars().all()
        templates = (await session.execute(select(EmailTemplate))).scalars().all()

    assert set(pipelines) == set(PIPELINES)
    for code, spec in PIPELINES.items():
        assert pipelines[code].description == spec.description
        seeded = {p.code: p for p in profiles if p.pipeline_id == pipelines[code].id}
        assert set(seeded) == {profile.code for profile in spec.profiles}, code
        for profile in spec.profiles:
            row = seeded[profile.code]
            assert (row.scope, row.attach_mode, row.env, row.is_active) == (
                profile.scope.value,
                profile.attach_mode,
                "any",
                True,
            ), f"{code}/{profile.code}"
            assert row.description == profile.description
            defaults = [t for t in templates if t.profile_id == row.id and t.name == "default"]
            assert len(defaults) == 1 and defaults[0].is_active, f"{code}/{profile.code} default template"


def test_registry_facts_are_unique_and_complete() -> None:
    assert [p.period for p in PIPELINES.values()] == ["day", "week", "month"]
    document_types = [p.document_type for p in PIPELINES.values()]
    assert len(set(document_types)) == len(document_types)
    flow_names = [p.flow_name for p in PIPELINES.values()]
    assert len(set(flow_names)) == len(flow_names)
    for spec in PIPELINES.values():
        assert spec.phases[0] == "db" and spec.phases[-1] == "report_email"
        assert len(set(spec.phases)) == len(spec.phases)
        assert pipeline_for_document_type(spec.document_type) is spec


def test_lookups_name_what_is_unknown() -> None:
    assert get_pipeline("dashboard_daily") is DAILY
    with pytest.raises(KeyError, match="unknown pipeline 'dashboard_hourly'"):
        get_pipeline("dashboard_hourly")
    with pytest.raises(KeyError, match="no email profile 'store_weekly_reports'"):
        DAILY.profile("store_weekly_reports")
    assert pipeline_for_document_type("invoice") is None


def test_prefect_yaml_deploys_flows_named_as_the_registry_says() -> None:
    import importlib
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    deployments = yaml.safe_load((root / "prefect.yaml").read_text())["deployments"]
    flow_names = {p.flow_name for p in PIPELINES.values()}
    # The alert and housekeeping deployments run no pipeline.
    support = {"alerts": "pipeline-alert", "housekeeping": "housekeeping"}
    assert deployments
    for deployment in deployments:
        path, _, attribute = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, attribute)
        if deployment["name"] in support:
            assert flow.name == support[deployment["name"]]
            continue
        assert flow.name in flow_names, deployment["entrypoint"]
        # `crm status` knows when each run is due from the registry: the schedule must agree.
        registered = next(p for p in PIPELINES.values() if p.flow_name == flow.name)
        assert [s["cron"] for s in deployment["schedules"]] == [registered.cron]
        # The hooks alert for the pipeline the flow runs.
        pipeline = next(p for p in PIPELINES.values() if p.flow_name == flow.name)
        assert [hook.__name__ for hook in flow.on_failure_hooks] == [f"alert_{pipeline.code}"]


def test_alert_automations_watch_every_pipeline_flow() -> None:
    """The failure trigger names every pipeline's flow, the missed-run trigger the daily one: a renamed
    flow would silently leave its runs unwatched."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    deployments = yaml.safe_load((root / "prefect.yaml").read_text())["deployments"]
    alerts = next(d for d in deployments if d["name"] == "alerts")
    triggers = {t["name"]: t for t in alerts["triggers"]}
    failed = triggers["pipeline-run-failed"]
    assert set(failed["match_related"]["prefect.resource.name"]) == {p.flow_name for p in PIPELINES.values()}
    assert set(failed["expect"]) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    missed = triggers["daily-run-not-completed"]
    assert missed["match_related"]["prefect.resource.name"] == DAILY.flow_name
    assert missed["posture"] == "Proactive" and missed["within"] >= 3600
    for trigger in triggers.values():
        assert trigger["parameters"]["flow_run_id"] == "{{ event.resource.id }}"
