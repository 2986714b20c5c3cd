"""The partner schemas' provider blocks, built from each provider's account declaration.

A provider that keeps an object of its own in the partners API (``BillingProvider.account_block``:
Robokassa's ``robokassa``, older than ``provider_account``) gets three schemas named after it —
``<Block>In``, ``<Block>Patch``, ``<Block>Out`` — whose fields are its declared fields under
their declared names: the login a string, a secret a write-only ``SecretStr`` (never in an output
schema), a choice a ``Literal`` of its values with its default, a flag a boolean. Beside them the
core's own ``invoice_number_start``, and in the output ``refunds_enabled`` (when the provider
needs a refund secret) and each address to paste into its cabinet, by the address's name.
"""

from __future__ import annotations

from typing import Any, Literal

from ninja import Field, Schema
from pydantic import SecretStr, create_model

from billing_providers import registry
from billing_providers.base import AccountField, BillingProvider

NUMBERING_HELP = (
    "The first InvId the platform uses for this shop (default 1000000000): keep it above the "
    "order numbers of the shop's own site. Checked with OpStateExt before use."
)


def _choice_type(spec: AccountField) -> Any:
    return Literal.__getitem__(tuple(value for value, _label in spec.choices))


def _description(spec: AccountField) -> str:
    if spec.secret:
        return f"{spec.label_en}. {spec.help_en} Write-only: never returned."
    return f"{spec.label_en}. {spec.help_en}"


def _entered(provider_class: type[BillingProvider]) -> list[AccountField]:
    return [spec for spec in provider_class.account_fields if spec.entered]


def _input_fields(provider_class: type[BillingProvider], *, patch: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in _entered(provider_class):
        about = _description(spec)
        if spec.target == "flag":
            kind: Any = bool
            default: Any = None if patch else False
        elif spec.target == "choice":
            kind = _choice_type(spec)
            default = None if patch else spec.default
        else:
            kind = SecretStr if spec.secret else str
            default = None if patch or not spec.required else ...
        if default is None:
            kind = kind | None
        fields[spec.name] = (kind, Field(default, description=about))
    fields["invoice_number_start"] = (int | None, Field(None, description=NUMBERING_HELP))
    return fields


def _output_fields(provider_class: type[BillingProvider]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in _entered(provider_class):
        if spec.secret:
            continue
        kind: Any = {"flag": bool, "choice": _choice_type(spec)}.get(spec.target, str)
        # The label only: an output never describes a secret, not even in passing.
        fields[spec.name] = (kind, Field(..., description=spec.label_en))
    fields["invoice_number_start"] = (int, Field(..., description=NUMBERING_HELP))
    if provider_class.refund_secret:
        fields["refunds_enabled"] = (
            bool,
            Field(
                False,
                description="The shop's refund secret is set: refunds can be made through the "
                "platform.",
            ),
        )
    for address in provider_class.cabinet_addresses:
        fields[address.name] = (str, Field(..., description=address.help_en))
    return fields


def partner_schemas(
    *,
    partner_in: type[Schema],
    partner_patch: type[Schema],
    partner_out: type[Schema],
    account_in: type[Schema],
    account_out: type[Schema],
) -> tuple[type[Schema], type[Schema], type[Schema]]:
    """``PartnerIn``, ``PartnerPatch``, ``PartnerOut``: the fixed partner fields, then one block
    per provider that keeps one, then ``provider_account``."""
    ins: dict[str, Any] = {}
    patches: dict[str, Any] = {}
    outs: dict[str, Any] = {}
    for provider_class in registry.declaring_providers():
        block = provider_class.account_block
        if not block:
            continue
        label = registry.provider_label(provider_class.slug)
        title = block.title().replace("_", "")
        block_in = create_model(
            f"{title}In", __base__=Schema, **_input_fields(provider_class, patch=False)
        )
        block_patch = create_model(
            f"{title}Patch",
            __base__=Schema,
            __doc__="Only the fields sent change; a secret that is absent or empty keeps the "
            "stored one.",
            **_input_fields(provider_class, patch=True),
        )
        block_out = create_model(f"{title}Out", __base__=Schema, **_output_fields(provider_class))
        ins[block] = (
            block_in | None,
            Field(
                None, description=f"A {label} shop. One of {block} or provider_account is required."
            ),
        )
        patches[block] = (
            block_patch | None,
            Field(
                None, description=f"{label}'s fields; moves a shop at another provider to {label}."
            ),
        )
        outs[block] = (
            block_out | None,
            Field(..., description=f"Set when the shop is at {label}."),
        )
    ins["provider_account"] = (
        account_in | None,
        Field(None, description="A shop at any provider, from its declared fields."),
    )
    patches["provider_account"] = (
        account_in | None,
        Field(
            None,
            description="Declared fields; another provider than the current one moves the shop.",
        ),
    )
    outs["provider_account"] = (account_out | None, Field(None))
    return (
        create_model("PartnerIn", __base__=partner_in, **ins),
        create_model("PartnerPatch", __base__=partner_patch, **patches),
        create_model("PartnerOut", __base__=partner_out, **outs),
    )
