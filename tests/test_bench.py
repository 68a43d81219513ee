import pytest

from experiments.bench import driver as bench
from experiments.bench import vae as bench_vae


def test_replace_section_keeps_the_rest():
    text = "# B\n\nnotes\n"
    text = bench.replace_section(text, "x", "one")
    text = bench.replace_section(text, "y", "two")
    text = bench.replace_section(text, "x", "three")
    assert text.count("<!-- bench:x -->") == 1 and "three" in text and "one" not in text
    assert "notes" in text and "two" in text


@pytest.mark.slow  # a dozen processes (~2-4 min); `make bench-quick` exercises it
def test_vae_bench_quick_runs_all_implementations():
    table = bench_vae.run(quick=True)
    assert "shared loop" in table and "jitted step" in table and "PyTorch eager" in table
    assert "Matmul peak" in table and "% of matmul peak" in table
