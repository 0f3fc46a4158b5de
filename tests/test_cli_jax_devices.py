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
    assert jax_host_devices(_args("run")) == 4
    assert jax_host_devices(_args("run", "--no-fit")) is None
    assert jax_host_devices(_args("run", "--no-fit", "--robustness")) == 4
    assert jax_host_devices(_args("fit", "--backend", "pymc")) is None
    assert jax_host_devices(_args("data")) is None
    assert jax_host_devices(_args("feasibility")) >= 1
