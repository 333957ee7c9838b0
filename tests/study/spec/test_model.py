"""The study's model: errors that travel between processes, conditions and parameters in words."""

from __future__ import annotations

import pickle

import pytest

from study.spec import Condition, Param, StudyFileError


def test_study_file_error_pickles():
    err = StudyFileError("f.toml", "search", "lr", "range inverted", "swap the bounds")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) == "f.toml: [search] lr: range inverted; swap the bounds"



def test_conditions_and_params_read_like_the_file():
    cond = Condition("tta_n", low=1.0)
    assert str(cond) == "tta_n = { min = 1 }"
    assert cond.holds({"tta_n": 2}) and not cond.holds({"tta_n": 0}) and not cond.holds({})
    flag = Condition("mixup", values=(True,))
    assert flag.holds({"mixup": True}) and not flag.holds({"mixup": 1})  # true is not 1
    param = Param("tta_beta", "float", low=0.0, high=0.5, when=(cond,))
    assert str(param) == "float [0, 0.5]  when tta_n = { min = 1 }"
    assert param.is_active({"tta_n": 4}) and not param.is_active({"tta_n": 0})


def test_each_phase_ends_before_the_shares_of_the_phases_after_it():
    from study.spec.model import Budget

    b = Budget(time_s=600.0, confirm_share=0.3, ablation_share=0.3)
    assert b.phase_end_s("search") == pytest.approx(240.0)  # the demo: 4 of its 10 minutes for the search
    assert b.phase_end_s("confirm") == pytest.approx(420.0)
    assert b.phase_end_s("ablation") == 600.0
    assert Budget(time_s=600.0, confirm_share=0.2).phase_end_s("search") == pytest.approx(480.0)  # no ablation
    with pytest.raises(ValueError, match="phase must be one of search, confirm, ablation, got 'done'"):
        b.phase_end_s("done")
