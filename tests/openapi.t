#!/bin/sh
# openapi.t - doc/openapi.json against the real answers of every scrimd
# endpoint, errors included: tests/openapi_check.py starts scrimd (an
# ordinary one, one without tokens, one kept busy) on temp sockets and
# databases, sends its table of requests, and validates each answer's
# status, content type, headers and body against the document (JSON Schema
# 2020-12, python3-jsonschema).  It fails when a route of the source is not
# in the document, when a documented status has no case, or when an answer
# does not fit.  How to add a route: the checker's docstring.
set -u
. "$(dirname "$0")/tap.sh"
need_tools python3
[ -x "$BIN/scrimd" ] || skip_all "no scrimd"
python3 -c 'import jsonschema' 2>/dev/null || skip_all "python3-jsonschema not installed"
temp_dir T openapi
exec python3 "$(dirname "$0")/openapi_check.py" "$BIN" "$T"
