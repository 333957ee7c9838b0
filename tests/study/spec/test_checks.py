"""The [search] values against the trial config: every value the sampler can draw must be valid."""

from __future__ import annotations

import pytest

from tests.study.spec.helpers import assert_bad_file

# (text of the file, the key the message must name, another fragment it must contain)
BAD_FILES = [
    ("[search]\nnormalize = { choice = ['none', 'batch'] }\n", "[search] normalize", "'batch'"),
    ("[search]\nlr = { float = [1e-3, 20] }\n", "[search] lr", "lr must be in (0, 10)"),
    ("[search]\nlabel_noise = { int = [0, 5] }\n", "[search] label_noise", "label_noise must be one of"),
    ("[search]\nsize = { choice = [48, 256] }\n", "[search] size", "more than twice presize"),
    (("[search]\nprogressive = { choice = [false, true] }\nsize = { choice = [24, 32] }\n"
     "resize_start_scale = { float = [0.5, 0.95], when = { progressive = true } }\n"), "resize_start_scale",
     "not smaller than the final size"),
    ("[search]\nresize_frac = { float = [0.0, 0.5] }\n", "[search] resize_frac", "(0, 1)"),
    ("[search]\nresize_mode = { choice = ['fine_tune', 'sideways'] }\n", "[search] resize_mode", "unknown mode"),
    ("[base]\nepochs = 1\n[search]\nprogressive = { choice = [false, true] }\n", "progressive = true",
     "epochs >= 2"),
]


@pytest.mark.parametrize("text,key,fragment", BAD_FILES, ids=[f"{i}-{c[1]}" for i, c in enumerate(BAD_FILES)])
def test_bad_study_file(tmp_path, text, key, fragment):
    assert_bad_file(tmp_path, text, key, fragment)
