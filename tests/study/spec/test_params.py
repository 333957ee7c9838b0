"""The [search] grammar: ranges, choices, conditions and their order, and every bad parameter."""

from __future__ import annotations

import pytest

from tests.study.spec.helpers import assert_bad_file

# (text of the file, the key the message must name, another fragment it must contain)
BAD_FILES = [
    ("[search]\nlrr = { float = [1e-3, 1e-2] }\n", "[search] lrr", "did you mean 'lr'"),
    ("[search]\nlr = { float = [1e-3, 1e-2], lgo = true }\n", "lr.lgo", "did you mean 'log'"),
    ("[search]\nlr = 0.01\n", "[search] lr", "put it in [base]"),
    ("[search]\nlr = { float = [1e-2, 1e-2] }\n", "[search] lr", "holds one value"),
    ("[search]\nlr = { float = [1e-2, 1e-3] }\n", "[search] lr", "inverted"),
    ("[search]\nlr = { float = [] }\n", "[search] lr", "two numbers"),
    ("[search]\nlr = { float = [0.0, 1e-2], log = true }\n", "[search] lr", "log scale needs lo > 0"),
    ("[search]\ntta_n = { int = [0, 8.5] }\n", "[search] tta_n", "int bounds must be integers"),
    ("[search]\ntta_n = { float = [0, 8] }\n", "[search] tta_n", "integer setting"),
    ("[search]\nnormalize = { choice = [] }\n", "[search] normalize", "non-empty"),
    ("[search]\nnormalize = { choice = ['none', 1] }\n", "[search] normalize", "mixes types"),
    ("[search]\nnormalize = { choice = ['none', 'none'] }\n", "[search] normalize", "twice"),
    ("[search]\nflip = { choice = [0, 1] }\n", "[search] flip", "true/false setting"),
    ("[search]\nlr = { float = [1e-3, 1e-2], log = true, step = 1e-3 }\n", "lr.step", "cannot be combined with log"),
    ("[search]\nlr = { float = [1e-3, 1e-2], step = 4e-3 }\n", "lr.step", "does not divide"),
    ("[search]\nseed = { int = [0, 9] }\n", "[search] seed", "cannot be searched"),
    ("[search]\nschedule = { choice = ['32x5'] }\n", "[search] schedule", "search progressive"),
    ("[search]\ndevice = { choice = ['cpu', 'cuda'] }\n", "[search] device", "cannot be searched"),
    ("[search]\nmixup_alpha = { float = [0.1, 1.0], when = { mixupp = true } }\n", "mixup_alpha.when",
     "not searched"),
    ("[search]\nmixup = { choice = [false, true] }\nmixup_alpha = { float = [0.1, 1.0], when = { mixupp = true } }\n",
     "mixup_alpha.when", "did you mean 'mixup'"),
    ("[search]\nlr = { float = [1e-3, 1e-2], when = { lr = { min = 0.005 } } }\n", "lr.when", "itself"),
    (("[search]\nmixup = { choice = [false, true], when = { progressive = true } }\n"
     "progressive = { choice = [false, true], when = { mixup = true } }\n"), ".when", "cycle"),
    ("[search]\nmixup = { choice = [false, true] }\nmixup_alpha = { float = [0.1, 1.0], when = { mixup = 'yes' } }\n",
     "mixup_alpha.when.mixup", "not a value of mixup"),
    ("[search]\nmixup = { choice = [false, true] }\nmixup_alpha = { float = [0.1, 1.0], when = { mixup = 1 } }\n",
     "mixup_alpha.when.mixup", "not a value of mixup"),
    ("[search]\ntta_n = { int = [0, 8] }\ntta_beta = { float = [0.0, 0.5], when = { tta_n = { min = 9 } } }\n",
     "tta_beta.when.tta_n", "never holds"),
    ("[search]\ntta_n = { int = [0, 8] }\ntta_beta = { float = [0.0, 0.5], when = { tta_n = 12 } }\n",
     "tta_beta.when.tta_n", "not a value of tta_n"),
    ("[search]\ntta_n = { int = [0, 8] }\ntta_beta = { float = [0.0, 0.5], when = { tta_n = { least = 1 } } }\n",
     "tta_beta.when.tta_n", "unknown key"),
    ("[base]\nschedule = '32x3,48x2'\n[search]\nsize = { choice = [48, 64] }\n", "[search] size", "no effect"),
    ("name = 'x'\n", "[search]", "missing"),
    ("[search]\n", "[search]", "empty"),
    ("search = 3\n", "[search]", "must be a table"),
]


@pytest.mark.parametrize("text,key,fragment", BAD_FILES, ids=[f"{i}-{c[1]}" for i, c in enumerate(BAD_FILES)])
def test_bad_study_file(tmp_path, text, key, fragment):
    assert_bad_file(tmp_path, text, key, fragment)
