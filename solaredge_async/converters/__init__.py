"""Turning response bodies into the records of `solaredge_async.models` (cattrs).

Built like cattrs' ``preconf`` modules: `configure_converter` registers the hooks on
a `cattrs.Converter` and `make_converter` returns a configured one. Two modes:

* **lenient** (the default, for production): unknown keys are kept, frozen, in the
  ``extra`` field of the record they belong to; an unknown enum value is kept as its
  raw string; timestamps without a UTC offset are accepted (as naive datetimes);
  booleans pass as numbers and whole numbers as strings. Types are still checked: a
  string where a number belongs is an error.
* **strict** (for tests and fixtures): unknown keys, unknown enum values, naive
  timestamps, booleans as numbers and anything else outside the API reference are
  errors.

`ResponseParser` is what the client calls: one method per response shape, each
taking the decoded body (`decode_json`) and the request path, and raising one
`solaredge_async.errors.ResponseValidationError` whose message points at the bad
field (``expected float, got string '1.5' @ $.values[3].value``) for any body that
does not fit. No other exception escapes it, whatever the input.

The modules, one concern each: ``_hooks`` (cattrs hook factories: scalars,
timestamps, open enums, optionals, camelCase records), ``_series`` (the hand-written
loop that parses series into columns), ``_errors`` (error trees and their rendering
as JSON paths), ``_decoding`` (`decode_json`) and ``_parser`` (`ResponseParser` and
the converters); ``_names`` holds the JSON names of record fields.
"""

from solaredge_async.converters._decoding import decode_json
from solaredge_async.converters._errors import MAX_ERRORS
from solaredge_async.converters._hooks import parse_timestamp
from solaredge_async.converters._parser import ResponseParser, configure_converter, make_converter

__all__ = [
    "MAX_ERRORS",
    "ResponseParser",
    "configure_converter",
    "decode_json",
    "make_converter",
    "parse_timestamp",
]
