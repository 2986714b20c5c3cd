"""Rules for a network's address (slug) and the schema name derived from it.

Besides the format and the reserved words, an address must not pass for another one: `cheza-quest`,
`chezaque5t` or `chezaquesl` next to an existing `chezaquest`, or `adm1n` for the reserved `admin`,
would let someone phish managers and customers with a look-alike panel or payment page. Each slug is
reduced to a canonical skeleton (hyphens dropped, characters that read alike folded together) and a
new slug whose skeleton equals an existing or reserved one's is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection
from django.db.models import F, Func, Value
from django.utils.translation import gettext as _

from .errors import NetworkConflict, NetworkValidationError

RESERVED_SLUGS = frozenset({"www", "api", "admin", "public", "static", "media", "app", "mail"})
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")

# Multi-letter look-alikes first, then single characters folded onto one representative each.
_SEQUENCES = (("rn", "m"), ("vv", "w"))
_FOLD_FROM = "0135it"
_FOLD_TO = "olesll"
_FOLD = str.maketrans(_FOLD_FROM, _FOLD_TO)


def schema_name_for_slug(slug: str) -> str:
    return slug.replace("-", "_")


def existing_schema_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def slug_skeleton(slug: str) -> str:
    """The canonical form two addresses share when they read alike (see the module docstring)."""
    skeleton = slug.lower().replace("-", "")
    for sequence, letter in _SEQUENCES:
        skeleton = skeleton.replace(sequence, letter)
    return skeleton.translate(_FOLD)


def _skeleton_sql() -> Func:
    """slug_skeleton() in SQL, so the comparison with every network is one indexed-free scan in the
    database instead of loading every slug into Python."""
    expression: Func = Func(F("slug"), Value("-"), Value(""), function="replace")
    for sequence, letter in _SEQUENCES:
        expression = Func(expression, Value(sequence), Value(letter), function="replace")
    return Func(expression, Value(_FOLD_FROM), Value(_FOLD_TO), function="translate")


_RESERVED_SKELETONS = {slug_skeleton(word): word for word in RESERVED_SLUGS}


def slug_validate(slug: str) -> str:
    """Return the normalised slug or raise NetworkValidationError with a message for a person.
    Format and reserved words only: nothing here reads the database."""
    slug = (slug or "").strip().lower()
    if not _SLUG_RE.match(slug):
        raise NetworkValidationError(
            _(
                "Адрес сети: от 3 до 40 символов — латинские буквы, цифры и дефис; "
                "не может начинаться или заканчиваться дефисом."
            ),
            "invalid_slug",
        )
    if (
        slug in RESERVED_SLUGS
        or slug.startswith("pg-")
        or slug_skeleton(slug) in _RESERVED_SKELETONS
    ):
        raise NetworkValidationError(
            _("Этот адрес зарезервирован, выберите другой."), "reserved_slug"
        )
    return slug


def schema_is_free(slug: str) -> bool:
    """False when a schema of that name exists without being a network (template, system...)."""
    return schema_name_for_slug(slug) not in existing_schema_names()


def slug_lookalike(slug: str) -> str | None:
    """The existing network's slug that `slug` would pass for (not itself), or None."""
    # local: models need the app registry, and this module must import before it is ready
    from .models import Network

    return (
        Network.objects.annotate(skeleton=_skeleton_sql())
        .filter(skeleton=slug_skeleton(slug))
        .exclude(slug=slug)
        .values_list("slug", flat=True)
        .first()
    )


def slug_ensure_available(slug: str) -> str:
    """Validate `slug` and check it against the networks and schemas that exist; return it.

    Raises NetworkValidationError (invalid, reserved, look-alike) or NetworkConflict (taken exactly,
    the contract's 409)."""
    # local: models need the app registry, and this module must import before it is ready
    from .models import Network

    slug = slug_validate(slug)
    if Network.objects.filter(slug=slug).exists():
        raise NetworkConflict(_("Адрес «%(slug)s» уже занят.") % {"slug": slug}, "slug_taken")
    if not schema_is_free(slug):
        raise NetworkValidationError(
            _("Этот адрес зарезервирован, выберите другой."), "reserved_slug"
        )
    similar = slug_lookalike(slug)
    if similar is not None:
        raise NetworkValidationError(
            _("Адрес слишком похож на «%(other)s» — его легко перепутать. Выберите другой.")
            % {"other": similar},
            "lookalike_slug",
        )
    return slug


class SlugState(StrEnum):
    FREE = "free"
    TAKEN = "taken"
    INVALID = "invalid"


@dataclass(frozen=True)
class SlugCheck:
    slug: str
    state: SlugState
    reason: str = ""
    code: str = ""


def slug_check(slug: str) -> SlugCheck:
    """What the sign-up form's live check says about an address: free, taken, or invalid (why)."""
    cleaned = (slug or "").strip().lower()
    try:
        cleaned = slug_ensure_available(cleaned)
    except NetworkConflict as exc:
        return SlugCheck(cleaned, SlugState.TAKEN, exc.detail, exc.code)
    except NetworkValidationError as exc:
        return SlugCheck(cleaned, SlugState.INVALID, exc.detail, exc.code)
    return SlugCheck(cleaned, SlugState.FREE)
