"""Every case key is documented: docs/case_keys.md is generated from the schema."""
import os

from slabqkt.case import SCHEMA, markdown

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_case_keys_doc_is_current():
    with open(os.path.join(ROOT, "docs", "case_keys.md")) as f:
        text = f.read()
    assert text.strip() == markdown().strip(), "regenerate: python -m slabqkt.case --markdown > docs/case_keys.md"


def test_every_key_has_unit_and_doc():
    for sec, keys in SCHEMA.items():
        for name, key in keys.items():
            assert key.unit and len(key.doc) > 15, f"{sec}.{name}"


def test_ready_cases_load():
    from slabqkt import load_case
    folder = os.path.join(ROOT, "geometries")
    for fn in sorted(os.listdir(folder)):
        if fn.endswith(".toml"):
            load_case(os.path.join(folder, fn))
