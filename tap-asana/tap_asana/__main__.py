"""Run the tap with `python -m tap_asana`."""

from tap_asana.tap import TapAsana

TapAsana.cli()
