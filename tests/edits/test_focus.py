"""The content-aware focus finds the subject, not the middle of the frame."""

from __future__ import annotations

import pytest
from PIL import Image, ImageFilter

from huajia.edits import find_focus
from tests.edits.pictures import gradient, noisy, with_disc


def test_a_plain_image_is_focused_on_its_centre() -> None:
    focus = find_focus(Image.new("RGB", (640, 480), (90, 120, 200)))
    assert (focus.x, focus.y) == (0.5, 0.5)


@pytest.mark.parametrize(
    ("size", "centre"),
    [((1600, 900), (1400, 450)), ((1600, 900), (250, 200)), ((700, 1200), (350, 1000))],
)
def test_the_focus_lands_on_an_off_centre_subject(
    size: tuple[int, int], centre: tuple[int, int]
) -> None:
    focus = find_focus(with_disc(gradient(*size), centre, 110))
    assert abs(focus.x * size[0] - centre[0]) < 60
    assert abs(focus.y * size[1] - centre[1]) < 60


def test_a_dark_subject_on_a_light_backdrop_is_found() -> None:
    image = with_disc(Image.new("RGB", (1200, 800), (235, 235, 230)), (900, 250), 90, (30, 30, 40))
    focus = find_focus(image)
    assert abs(focus.x * 1200 - 900) < 50 and abs(focus.y * 800 - 250) < 50


def test_two_subjects_pull_the_focus_to_the_larger_not_between_them() -> None:
    image = with_disc(gradient(1600, 900), (300, 450), 150)
    image = with_disc(image, (1350, 450), 60)
    focus = find_focus(image)
    assert abs(focus.x * 1600 - 300) < 80


def test_the_focus_is_always_inside_the_image() -> None:
    for seed in range(5):
        focus = find_focus(noisy(300, 200, seed))
        assert 0.0 <= focus.x <= 1.0 and 0.0 <= focus.y <= 1.0
    tiny = find_focus(noisy(1, 1))
    assert 0.0 <= tiny.x <= 1.0 and 0.0 <= tiny.y <= 1.0


def test_a_subject_on_a_textured_backdrop_is_found() -> None:
    backdrop = noisy(1600, 900, seed=1).filter(ImageFilter.GaussianBlur(3))
    focus = find_focus(with_disc(backdrop, (1300, 300), 100))
    assert abs(focus.x * 1600 - 1300) < 60 and abs(focus.y * 900 - 300) < 60
