"""The eval view and the data view in a real JupyterLab, clicked by headless chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .lab import open_and_run_all, write_notebook

pytestmark = pytest.mark.browser

SCENARIO = (Path(__file__).resolve().parents[1] / "jupyter" / "scenario.py").read_text()
TIMEOUT = 60_000

EVAL = """
from flowai_nb.evals import (ResponseScorer, define_eval_config, define_eval_request,
                             define_test_case)
from flowai_nb.jupyter.widgets.eval_view import eval_view

rt = build_runtime([])
good = define_test_case("refund", "refund order 42", final_response=[
    ResponseScorer.contains("done")])
bad = define_test_case("refuse", "refund order 42", approvals=["reject"], final_response=[
    ResponseScorer.exact("No refund.", required=True)])
request = define_eval_request([good, bad], define_eval_config(samples_per_case=2),
                              name="refunds")
view = eval_view(rt, request)
view
"""


def test_clicking_a_sample_opens_its_trace(page, lab, tmp_path) -> None:
    notebook = write_notebook(tmp_path / "eval.ipynb", [
        SCENARIO,
        EVAL,
        "artifact = await view\n"
        "print(f'RESULT done={view.done} passed={view.passed} status={view.status}')",
    ])
    open_and_run_all(page, lab, notebook)
    expect(page.locator(".jp-OutputArea-output", has_text="RESULT done=4 passed=2 status=finished")
           .first).to_be_visible(timeout=TIMEOUT)
    eval_el = page.locator(".fnb-eval")
    expect(eval_el.locator(".fnb-progress-label")).to_have_text("4/4 samples · 2 passed")
    expect(eval_el.locator(".fnb-verdict")).to_have_text("FAILED 0.50 (threshold 0.70)")
    expect(eval_el.locator("svg.fnb-score-chart rect.fnb-score-bar")).to_have_count(2)
    expect(eval_el.locator("tr.fnb-sample-row")).to_have_count(4)

    eval_el.locator("tr.fnb-sample-row[data-case='refuse'][data-index='1']").click()
    detail = eval_el.locator(".fnb-sample-detail")
    expect(detail).to_contain_text("refuse · sample 1", timeout=TIMEOUT)
    expect(detail.locator(".fnb-components")).to_contain_text("response.exact")
    trace = eval_el.locator(".fnb-eval-trace .fnb-trace")
    expect(trace).to_be_visible(timeout=TIMEOUT)
    labels = trace.locator(".fnb-span-label")
    for name in ("coordinator", "planner", "executor", "execute_plan"):
        expect(labels.filter(has_text=name).first).to_be_visible()
    assert page.errors == []


def test_data_view_catalog_search_and_paging(page, lab, tmp_path) -> None:
    notebook = write_notebook(tmp_path / "data.ipynb", [
        "import flowai_nb as fa\n"
        "from flowai_nb.data.sample import make_sample_sqlite\n"
        "from flowai_nb.jupyter.widgets.data_view import DataView\n"
        f"db = make_sample_sqlite({str(tmp_path / 'retail.db')!r})\n"
        "spec = fa.define_runtime(fa.define_tenant('shop', '1'), agents=[\n"
        "    fa.define_specialist('analyst', model='scripted', prompt='SQL.',\n"
        "                         toolkits=['catalog', 'sql'])],\n"
        "    providers={'scripted': {'scripts': {'analyst': [{'text': 'ok'}]}}})\n"
        "rt = fa.create_runtime(spec, interpreter='scripted',\n"
        "                       target_database_url=f'sqlite:///{db}')\n"
        "DataView(rt)",
        "big = rt.data.run_sql('SELECT * FROM sales ORDER BY sale_id', limit=5000)\n"
        "DataView.for_result(big, runtime=rt)",
    ])
    open_and_run_all(page, lab, notebook)
    catalog = page.locator(".fnb-data").first
    expect(catalog.locator(".fnb-table-list li")).to_have_count(4, timeout=TIMEOUT)
    catalog.locator(".fnb-table-list li", has_text="sales").click()
    detail = catalog.locator(".fnb-table-detail")
    expect(detail).to_contain_text("3,000 rows", timeout=TIMEOUT)
    expect(detail.locator("tr", has_text="discount")).to_contain_text("DOUBLE")

    catalog.locator("input.fnb-search").fill("discount customer")
    catalog.locator("input.fnb-search").press("Enter")
    expect(catalog.locator(".fnb-results li").first).to_contain_text("sales", timeout=TIMEOUT)

    grid = page.locator(".fnb-data").nth(1)
    expect(grid.locator(".fnb-range")).to_have_text("rows 1–50 of 3,000", timeout=TIMEOUT)
    grid.locator("button.fnb-page", has_text="›").click()
    expect(grid.locator(".fnb-range")).to_have_text("rows 51–100 of 3,000", timeout=TIMEOUT)
    expect(grid.locator("tbody tr").first.locator("td").first).to_have_text("51")
    assert page.errors == []
