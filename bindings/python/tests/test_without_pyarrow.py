"""Without pyarrow the package still imports, and its streams still go to PyCapsule consumers
(here: read directly through the C struct, as nanoarrow or a C extension would)."""

import subprocess
import sys
import textwrap


def test_streams_work_through_capsules_when_pyarrow_is_missing(typed_csv):
    script = textwrap.dedent(f"""
        import sys
        sys.modules["pyarrow"] = None  # import pyarrow now raises ImportError
        import dativo
        from dativo import _capsule
        stream = dativo.read_csv({str(typed_csv)!r})
        try:
            stream.schema
        except ImportError as error:
            assert "__arrow_c_stream__" in str(error), error
        capsule = stream.__arrow_c_stream__()
        c_stream = _capsule.pointer(_capsule.STREAM, capsule)
        array = _capsule.new_struct(_capsule.ARRAY)
        assert c_stream.get_next(c_stream, array) == 0 and array.length == 3
        array.release(array)
        assert len(_capsule._owned) == 1
        del capsule  # never read to the end: the fallback destructor releases it
        assert len(_capsule._owned) == 0
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
