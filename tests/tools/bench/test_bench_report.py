"""Metric scraping helpers and the report: must cope with parts that did not run."""
from tools.bench import report
from tools.bench.probes import delta, label_values, parse_samples, total

SCRAPE = """# HELP intentflow_step_seconds Time spent in one step
# TYPE intentflow_step_seconds histogram
intentflow_step_seconds_sum{service="classify",step="encode"} 2.5
intentflow_step_seconds_sum{service="classify",step="rules"} 0.5
intentflow_step_seconds_count{service="classify",step="encode"} 10.0
# HELP intentflow_records_total Records
# TYPE intentflow_records_total counter
intentflow_records_total{outcome="classified",service="classify"} 100.0
"""


def test_scrape_parsing_delta_and_filters():
    after = parse_samples(SCRAPE)
    before = {("intentflow_records_total", (("outcome", "classified"), ("service", "classify"))): 40.0}
    moved = delta(before, after)
    assert total(moved, "intentflow_records_total", service="classify") == 60.0
    assert total(moved, "intentflow_step_seconds_sum", service="classify") == 3.0
    assert total(moved, "intentflow_step_seconds_sum", step="rules") == 0.5
    assert label_values(after, "intentflow_step_seconds_sum", "step", service="classify") == ["encode", "rules"]


def test_headlines_and_markdown_without_any_part():
    results = {"mode": "quick", "posts": 0, "machine": {"cores": 2, "cpu_model": "x"},
               "versions": {"embedder": None}, "parts": {}}
    results.update(report.headlines({}))
    assert results["pipeline_to_encoder_ratio"] is None and results["search_1m_ms_p99"] is None
    table = report.markdown(results)
    assert "| pipeline / encoder | n/a |" in table


def test_ratio_and_targets():
    parts = {"encoder": {"posts_per_s": 400.0}, "end_to_end": {"throughput": {"posts_per_s": 100.0},
                                                                 "peak_rss_mb": {"classify": 2000.0}}}
    h = report.headlines(parts)
    assert h["pipeline_to_encoder_ratio"] == 0.25
    assert h["pipeline_to_best_encoder_ratio"] == 0.25
    parts["encoder"]["one_thread_posts_per_s"] = 1000.0
    assert report.headlines(parts)["pipeline_to_best_encoder_ratio"] == 0.1
    results = {"mode": "full", "posts": 1, "machine": {"cores": 2, "cpu_model": "x"},
               "versions": {"embedder": "e"}, "parts": parts, **h}
    assert "| peak RSS classify (MB) | 2,000.0 | ≤ 1024 | **no** |" in report.markdown(results)


def test_first_stage_pass_rate_is_reported_beside_the_throughput():
    parts = {"end_to_end": {"throughput": {"posts_per_s": 300.0}},
             "first_stage": {"pass_rate": 0.25, "positive_recall": 1.0, "positives": 10}}
    h = report.headlines(parts)
    assert h["first_stage_pass_rate"] == 0.25 and h["first_stage_recall"] == 1.0
    results = {"mode": "quick", "posts": 2000, "machine": {"cores": 2, "cpu_model": "x"},
               "versions": {"embedder": "e"}, "parts": parts, "stream": "real chatter, 1 per 200", **h}
    table = report.markdown(results)
    assert "| first stage: share of the stream sent to the encoder | 0.250 | ≤ 0.15 | **no** |" in table
    assert "| first stage: recall of the 10 injected positives | 1.000 | ≥ 0.99 | yes |" in table
    assert "stream: real chatter, 1 per 200" in table.splitlines()[0]
    assert report.headlines({})["first_stage_pass_rate"] is None
