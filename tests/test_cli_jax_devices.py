"""The command line chooses JAX's host devices before JAX starts; the library never does."""

import argparse

from vlms_bayes.cli import build_parser, jax_host_devices
from vlms_bayes.inference.sampling import xla_flags_with_host_devices


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_flags_ask_for_devices_and_keep_a_given_count() -> None:
    assert xla_flags_with_host_devices("", 4) == "--xla_force_host_platform_device_count=4"
    assert (xla_flags_with_host_devices("--xla_cpu_fast_math=false", 2)
            == "--xla_cpu_fast_math=false --xla_force_host_platform_device_count=2")
    given = "--xla_force_host_platform_device_count=3"
    assert xla_flags_with_host_devices(given, 8) == given


def test_one_device_per_chain_for_a_numpyro_fit_only() -> None:
    assert jax_host_devices(_args("fit", "--chains", "3")) == 3
    assert jax_host_devices(_args("fit", "--backend", "numpyro")) == 4
    assert jax_host_devices(_args("run")) == 4
    assert jax_host_devices(_args("run", "--no-fit")) is None
    assert jax_host_devices(_args("run", "--no-fit", "--robustness")) == 4
    assert jax_host_devices(_args("fit", "--backend", "pymc")) is None
    assert jax_host_devices(_args("data")) is None
    assert jax_host_devices(_args("feasibility")) >= 1


def test_sampling_commands_get_a_persistent_compilation_cache(tmp_path) -> None:
    """Set before JAX starts, under the user cache folder; a user's own choice is kept."""
    import os
    import subprocess
    import sys

    code = ("import os, sys; from vlms_bayes.cli import request_jax_compilation_cache; "
            "request_jax_compilation_cache(); print(os.environ.get('JAX_COMPILATION_CACHE_DIR'))")
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["VLMS_BAYES_CACHE_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(tmp_path / "jax-compilation")
    env["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(tmp_path / "mine")
