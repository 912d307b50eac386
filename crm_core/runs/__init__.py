"""Run records: what a pipeline run learned, phase by phase, its status, summary text and stored row.

`phases` (the outcomes of the shared phases), `record` (RunRecord),
`summary` (text layouts), `artifacts` (Prefect artifacts), `store` (`pipeline_run_summaries`), `daily`
(the daily pipeline's metrics and prerequisites).
"""
