import numpy as np

from benchmarks.measures import detail_energies


def test_rows_of_stripes_have_their_detail_down_the_columns():
    rng = np.random.default_rng(0)
    stripes = np.repeat(rng.uniform(0, 255, (40, 1)), 40, axis=1).astype(np.float32)
    mask = np.ones(stripes.shape, bool)
    along_rows, down_columns = detail_energies(stripes, mask)
    assert along_rows < 1e-3 * down_columns
    along_rows, down_columns = detail_energies(stripes.T.copy(), mask)
    assert down_columns < 1e-3 * along_rows
