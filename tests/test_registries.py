"""One registry per kind of name, and every consumer reads it: a model family, an importer, an
audio format or a status is added in one place, and these checks fail when a table and the code
it names drift apart."""

import re
from pathlib import Path
from typing import get_args

from dialectid.audio import sniff
from dialectid.audio.formats import FORMATS, MEDIA_TYPES, SUFFIXES
from dialectid.data.importers import IMPORTERS, MODULES, get_importer
from dialectid.models import MODELS, model_class
from dialectid.scoring.analysis import STATUSES, Status


def test_every_registered_model_is_the_class_of_that_name():
    for name in MODELS:
        assert model_class(name).name == name


def test_every_registered_importer_registers_under_its_name():
    for name in MODULES:
        assert get_importer(name).name == name
    assert set(IMPORTERS) == set(MODULES)


def test_every_container_sniff_names_is_a_registered_format():
    source = Path(sniff.__file__).read_text()
    named = set(re.findall(r'Container\(\s*"([^"]+)"', source))
    named |= {"3gp", "mp4"}  # chosen by brand in one expression
    assert named and named <= set(FORMATS), named - set(FORMATS)
    assert set(MEDIA_TYPES) == set(FORMATS) and ".gsm" in SUFFIXES and ".wav" in SUFFIXES


def test_statuses_are_one_list():
    assert get_args(Status) == STATUSES and len(STATUSES) == 5
