"""The example notebook runs top to bottom in a fresh kernel and shows Fig. 1 inline (issue 18)."""

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.mark.long
def test_quickstart_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # ipykernel's own "python3" spec starts sys.executable: the interpreter eoscheck is installed in
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    print(f"notebook ran in {seconds:.1f} s")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 1  # Fig. 1, inline
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "last increase: [-1" in text and "PASS" in text
    assert "verdict: FALSIFIED" in text or "verdict: NOT FALSIFIED" in text
    assert not list(tmp_path.iterdir())  # the notebook writes no files
