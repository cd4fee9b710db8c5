"""One dtype vocabulary: the same ``dtype=`` spellings accepted, and the same
refused, on every backend (anyad/backends/dtypes.py, docs/backends.md)."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.backends.dtypes import NAMES, OPTIONAL

STANDARD = [n for n in NAMES if n not in OPTIONAL]
# spellings refused everywhere, and the words their error must contain
REFUSED = {
    "float": "'float32' or 'float64'", "double": "write 'float64'", "half": "write 'float16'",
    "long": "write 'int64'", "int": "'int32' or 'int64'", "f4": "write 'float32'", "<i8": "write 'int64'",
    "complex": "'complex64' or 'complex128'", "single": "write 'float32'",
}


def _names_in(xp):
    return ad._backend.backend_name(xp), [n for n in NAMES if getattr(xp, n, None) is not None]


def _made(be, dtype, data=(1, 0)):
    """A Variable from ``be``'s array, one from Python data under ``be``, and an astype: their dtypes."""
    with be.use():
        from_data = ad.Variable(list(data), dtype=dtype).dtype
        zeros = ad.zeros((2,), dtype=dtype).dtype
    from_array = ad.Variable(be.array(np.array(data), dtype="int64"), dtype=dtype).dtype
    cast = ad.astype(ad.Variable(be.array(np.array(data, dtype=np.float64))), dtype).dtype
    return from_data, zeros, from_array, cast


@pytest.mark.parametrize("name", STANDARD)
def test_standard_names_everywhere(be, name):
    expected = getattr(be.xp, name)
    assert _made(be, name) == (expected,) * 4


@pytest.mark.parametrize("name", OPTIONAL)
def test_float16_and_bfloat16_where_the_library_has_them(be, name):
    expected = getattr(be.xp, name, None)
    if expected is None:
        with pytest.raises(TypeError, match=rf"dtype '{name}' is not offered by \w+"):
            _made(be, name)
    else:
        assert _made(be, name, (1.5, 0.0)) == (expected,) * 4


@pytest.mark.parametrize("name", ["float32", "int64", "bool", "complex128"])
def test_the_library_own_dtype_objects_and_numpy_dtypes(be, name):
    own = getattr(be.xp, name)
    assert _made(be, own) == (own,) * 4
    for spelling in (np.dtype(name), getattr(np, name)):  # NumPy's stand for their names anywhere
        assert _made(be, spelling) == (own,) * 4
    if name == "bool":
        assert _made(be, bool) == (own,) * 4


@pytest.mark.parametrize("spelling", sorted(REFUSED))
def test_aliases_are_refused_identically(be, spelling):
    messages = set()
    for make in (lambda: _made(be, spelling), lambda: ad.asarray(be.array([1.0]), dtype=spelling)):
        with pytest.raises(TypeError, match="not one of the standard's names") as info:
            make()
        assert REFUSED[spelling] in str(info.value)
        messages.add(str(info.value))
    assert len(messages) == 1


@pytest.mark.parametrize("spelling", [float, int, complex])
def test_python_number_types_are_refused(be, spelling):
    with pytest.raises(TypeError, match=rf"dtype={spelling.__name__} \(the Python type\) is refused"):
        _made(be, spelling)


def test_typos_and_non_dtypes_list_the_names(be):
    for bad, hint in (("flaot32", "did you mean 'float32'?"), ("Float64", "did you mean 'float64'?"),
                      ("sin", None), ("", None)):
        with pytest.raises(TypeError) as info:
            _made(be, bad)
        text = str(info.value)
        assert f"unknown dtype {bad!r}" in text
        assert ", ".join(STANDARD) in text
        assert (hint or "did you mean") in text if hint else "did you mean" not in text
    with pytest.raises(TypeError, match="'str96' is not one of the standard's dtypes"):
        _made(be, np.dtype("U3"))


def test_another_library_dtype_object_is_refused_naming_both():
    torch = pytest.importorskip("torch")
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError,
                       match=r"torch.float32 \(torch's\) cannot be used with numpy arrays.*'float32'"):
        ad.Variable(np.ones(2), dtype=torch.float32)
    with pytest.raises(TypeError, match=r"\(array_api_strict's\) cannot be used with torch arrays"):
        ad.Variable(torch.ones(2), dtype=strict.float32)
    with pytest.raises(TypeError, match="cannot be used with numpy arrays"):
        ad.zeros(2, dtype=torch.float64)
    assert ad.Variable(torch.ones(2), dtype=torch.float64).dtype == torch.float64


def test_one_vocabulary_on_every_library_present():
    """The same names on each library anyad can load here (jax and cupy when installed)."""
    libraries = ["numpy", "array_api_strict", "torch", "dask", "jax", "cupy"]
    tables = {}
    for lib in libraries:
        try:
            xp = ad._backend.get_backend(lib).xp
        except (ImportError, RuntimeError):
            continue
        name, names = _names_in(xp)
        tables[name] = names
        for n in names:
            assert ad._backend.resolve_dtype(xp, n) is getattr(xp, n)
        for bad in REFUSED:
            with pytest.raises(TypeError, match=REFUSED[bad].replace("(", r"\(")):
                ad._backend.resolve_dtype(xp, bad)
    assert all(set(STANDARD) <= set(names) for names in tables.values()), tables
    assert "numpy" in tables and "array_api_strict" in tables
    if "torch" in tables:
        assert "bfloat16" in tables["torch"] and "float16" in tables["torch"]


def test_dtype_everywhere_a_function_takes_one():
    v = ad.Variable([1.0, 2.0])
    assert ad.sum(v, dtype="float32").dtype == np.float32
    assert ad.nn.Linear(2, 2, rng=0, dtype="float64").weight.dtype == np.float64
    assert ad.full((2,), 1.0, dtype="float32").dtype == np.float32
    with pytest.raises(TypeError, match="write 'float64'"):
        ad.nn.Linear(2, 2, rng=0, dtype="double")
    with pytest.raises(TypeError, match="did you mean 'float32'"):
        ad.ones(2, dtype="flaot32")
