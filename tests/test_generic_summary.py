"""The generic summary of answers from unreviewed operations: key fields, lists cut with a count, always bounded."""

from __future__ import annotations

from neev_mcp.generic_summary import FULL_ANSWER, MAX_CHARS, summarise_answer
from tests.support.spec import REGIONS


def test_a_list_answer_names_each_item_by_its_key_fields() -> None:
    assert summarise_answer("List regions", {"data": REGIONS}) == "\n".join([
        "List regions: 3 items in data.",
        "- id=in-mum-1, name=Mumbai 1, status=available",
        "- id=in-del-1, name=Delhi 1, status=available",
        "- id=in-blr-1, name=Bengaluru 1, status=maintenance",
        FULL_ANSWER,
    ])


def test_a_long_list_is_cut_with_a_count_and_paging_is_shown() -> None:
    items = [{"uuid": f"u-{i}", "label": f"snap {i}", "size_gb": i, "notes": "x" * 500} for i in range(57)]
    text = summarise_answer("List snapshots", {"snapshots": items, "pagination": {"current_page": 1,
                                                                                 "total_pages": 6}, "total": 57})
    lines = text.splitlines()
    assert lines[0] == "List snapshots: 57 items in snapshots (current_page=1, total_pages=6; total=57)."
    assert lines[1] == "- uuid=u-0, label=snap 0, size_gb=0"
    assert lines[11] == "... and 47 more (57 in total)."
    assert lines[-1] == FULL_ANSWER and len(lines) == 13


def test_one_object_shows_ids_names_status_and_counts_first_and_nested_lists_as_counts() -> None:
    vm = {"description": "long words " * 20, "vm_config_id": "vcpu-8", "name": "web-1", "status": "stopped",
          "id": "212f", "disks": [{"id": "d1"}, {"id": "d2"}], "is_locked": False, "gpu_count": 2, "tags": []}
    assert summarise_answer("Resize VM", vm) == "\n".join([
        "Resize VM: id=212f, name=web-1, vm_config_id=vcpu-8, status=stopped, is_locked=false, gpu_count=2.",
        "disks: 2 items, tags: 0 items.",
        FULL_ANSWER,
    ])


def test_an_object_without_key_fields_shows_a_few_clipped_scalars() -> None:
    text = summarise_answer("Get quota", {"cpu": 64, "ram": "x" * 200})
    assert text.splitlines()[0] == f"Get quota: cpu=64, ram={'x' * 59}…."


def test_an_empty_body_says_the_request_was_accepted() -> None:
    assert summarise_answer("Delete snapshot", None, 202) == ("Delete snapshot: NeevCloud accepted the request "
                                                             "(HTTP 202) and sent no answer body.")
    assert summarise_answer("Ping", "") == "Ping: NeevCloud accepted the request and sent no answer body."


def test_a_top_level_list_and_scalars_are_summarised_too() -> None:
    assert summarise_answer("List plans", ["hourly", "monthly"]).splitlines()[:3] == [
        "List plans: 2 items.", "- hourly", "- monthly"]
    assert summarise_answer("Count", 7).splitlines()[0] == "Count: 7"


def test_the_text_never_exceeds_the_bound_however_wide_the_items() -> None:
    items = [{f"field_{j}_id": "v" * 100 for j in range(40)} for _ in range(500)]
    text = summarise_answer("Huge", {"items": items})
    assert len(text) <= MAX_CHARS and text.endswith(FULL_ANSWER)
