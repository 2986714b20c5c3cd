"""gunicorn's access logger with capability URLs masked (deploy/gunicorn.conf.py, `logger_class`).

gunicorn fills the access line from "atoms": the path (U), the request line (r), the query (q),
the referer (f) and the raw URI ({raw_uri}e); each of them can carry a payment-link token, the
amoCRM webhook secret or a one-time sign-in link (masking.py). The atoms are masked here, so no
`access_log_format` can print them.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from .masking import mask_capability_paths, mask_query, mask_url


class MaskingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        path = mask_capability_paths(environ.get("PATH_INFO", ""))
        query = mask_query(environ.get("QUERY_STRING", ""))
        atoms["U"] = path
        atoms["q"] = query
        atoms["r"] = "{} {}{} {}".format(
            environ.get("REQUEST_METHOD", "-"),
            path,
            f"?{query}" if query else "",
            environ.get("SERVER_PROTOCOL", "-"),
        )
        atoms["f"] = mask_url(atoms.get("f", "-")) if atoms.get("f", "-") != "-" else "-"
        # Request headers ({name}i) and environ entries ({name}e) a format may name: the referer
        # and the raw URI carry the same secrets.
        for key in ("{referer}i", "{raw_uri}e", "{http_referer}e", "{request_uri}e"):
            if key in atoms:
                atoms[key] = mask_url(str(atoms[key]))
        if "{path_info}e" in atoms:
            atoms["{path_info}e"] = path
        if "{query_string}e" in atoms:
            atoms["{query_string}e"] = query
        return atoms
