"""One line per error: pydantic's first error with its field path, a remote error's type and last
line, anything else with its lines joined."""

import pytest
from pydantic import ValidationError

from aither_wm.config import EncoderConfig, TrainConfig
from aither_wm.errors import ConfigError, one_line, validation_message


def _invalid(model, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        model(**kw)
    return info.value


def test_validation_message_names_the_field_the_rule_and_the_input():
    e = _invalid(TrainConfig, steps=0)
    assert validation_message(e) == "steps: Input should be greater than or equal to 1 (got 0)"
    assert validation_message(e, show_input=False) == (
        "steps: Input should be greater than or equal to 1"
    )


def test_validation_message_of_a_whole_object_names_the_model_and_cuts_the_input():
    e = _invalid(EncoderConfig, d_model=10, num_heads=4)  # a model-level rule
    assert validation_message(e).startswith("EncoderConfig: Value error, num_heads (4) must divide")
    long = validation_message(_invalid(TrainConfig, steps="x" * 500))
    assert long.startswith("steps: Input should be a valid integer")
    assert long.endswith(f"(got {'x' * 500!r:.60})") and "\n" not in long


def test_one_line_joins_lines_and_drops_pydantic_links():
    e = ConfigError("bad file\n  For further information visit https://x\nsecond line")
    assert one_line(e) == "bad file; second line"
    assert one_line(_invalid(TrainConfig, lam=-1)).startswith("lam: Input should be greater")


def test_one_line_with_type_keeps_the_last_line_of_a_remote_error():
    class RemoteError(Exception):
        def __init__(self, cause):
            super().__init__("Traceback ...\n  File x\nwrapped")
            self.cause = cause

    assert one_line(RemoteError(KeyError("k"))) == "'k'"
    assert one_line(RuntimeError("a\nb\nlast"), with_type=True) == "RuntimeError: last"
    assert one_line(RemoteError(ValueError("v")), with_type=True) == "ValueError: v"
    assert len(one_line(RuntimeError("x" * 1000), with_type=True)) == 300
