"""Works with the TensorFlow you have: missing or too-old packages are one-line errors, and every
private TensorFlow API graphrewrite uses resolves in the installed TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graphrewrite import _tf


@pytest.mark.parametrize("key", sorted(_tf.PRIVATE))
def test_every_private_api_resolves_in_this_tensorflow(key):
    assert _tf.private(key) is not None


def test_a_moved_private_api_is_a_one_line_error_naming_it():
    from graphrewrite.engine.errors import DependencyError

    with pytest.raises(DependencyError, match=r"no longer has tensorflow\.python\.framework\.nothing\.here") as err:
        _tf._private("tensorflow.python.framework.nothing", "here", purpose="a test")
    assert "\n" not in str(err.value)


def _run(code: str, tmp_path: Path, env_path: str | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    if env_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([env_path, str(Path(__file__).resolve().parents[2])])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_missing_tensorflow_is_a_one_line_error_at_the_first_command_that_needs_it(tmp_path):
    (tmp_path / "g.pbtxt").write_text('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n')
    result = _run(
        """
        import sys
        sys.modules["tensorflow"] = None  # as if no TensorFlow distribution were installed
        from graphrewrite.cli import main
        assert main(["rules"]) == 0  # listing rules needs no TensorFlow
        sys.exit(main(["summarize", "--in_graph=g.pbtxt"]))
        """,
        tmp_path,
    )
    err = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(err) == 1, result.stderr
    assert "TensorFlow is not installed" in err[0] and "graphrewrite[tensorflow]" in err[0]


def test_too_old_tensorflow_is_named(tmp_path):
    (tmp_path / "g.pbtxt").write_text('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n')
    fake = tmp_path / "fake"
    (fake / "tensorflow" / "core" / "framework").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text('__version__ = "2.10.1"\n')
    (fake / "tensorflow" / "core" / "__init__.py").write_text("")
    (fake / "tensorflow" / "core" / "framework" / "__init__.py").write_text("")
    (fake / "tensorflow" / "core" / "framework" / "graph_pb2.py").write_text("")
    result = _run(
        """
        import sys
        from graphrewrite.cli import main
        sys.exit(main(["summarize", "--in_graph=g.pbtxt"]))
        """,
        tmp_path,
        env_path=str(fake),
    )
    assert result.returncode == 1, result.stderr
    assert "TensorFlow 2.10.1 is too old: graphrewrite needs 2.16 or newer" in result.stderr


def test_version_tuple():
    assert _tf.version_tuple("2.16.2") == (2, 16)
    assert _tf.version_tuple("2.21.0rc1") == (2, 21)
    assert _tf.version_tuple("3") == (3, 0)


def test_no_tensorflow_distribution_is_a_dependency():
    """Whatever TensorFlow a user has (tensorflow-cpu 2.21, say) satisfies graphrewrite: none is
    required, so pip never installs a second one over it (.ci/oldest checks it for real)."""
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith(("tensorflow", "tf-", "tf_"))]
    extras = project["optional-dependencies"]
    assert extras["tensorflow"] == ["tensorflow>=2.16,<2.22"] and extras["tensorflow-cpu"] == ["tensorflow-cpu>=2.16,<2.22"]
    assert (_tf.OLDEST, _tf.NEWEST_TESTED) == ((2, 16), (2, 21))
