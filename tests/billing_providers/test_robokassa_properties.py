"""Property tests: what is signed verifies; any one-character change or Shp change does not."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billing_providers.robokassa.provider import RobokassaProvider
from billing_providers.robokassa.signatures import hex_digest, notification_signature_base
from tests.billing_providers.factories import (
    ALGORITHMS,
    PASSWORD1,
    PASSWORD2,
    TEST_PASSWORD1,
    TEST_PASSWORD2,
    make_account,
    make_request,
)
from tests.fakes.robokassa import FakeRobokassa, result_callback_form

provider = RobokassaProvider()

amount_texts = st.integers(min_value=0, max_value=6).flatmap(
    lambda places: st.decimals(
        min_value=Decimal(1).scaleb(-places),
        max_value=Decimal("99999999"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    ).map(lambda value: format(value, "f"))
)
shp_names = st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True)
shp_values = st.from_regex(r"[A-Za-z0-9._-]{0,16}", fullmatch=True)
shp_sets = st.dictionaries(shp_names, shp_values, max_size=5).map(
    lambda extra: {f"Shp_{name}": value for name, value in extra.items()}
)
algorithms = st.sampled_from(ALGORITHMS)
inv_ids = st.integers(min_value=1, max_value=2_147_483_647)


def _signed(out_sum: str, inv_id: int, shp: dict[str, str], algorithm: str) -> dict[str, str]:
    return result_callback_form(
        out_sum=out_sum, inv_id=inv_id, password2=PASSWORD2, hash_algorithm=algorithm, shp=shp
    )


@given(amount_texts, inv_ids, shp_sets, algorithms)
def test_signed_callbacks_verify(out_sum, inv_id, shp, algorithm):
    params = _signed(out_sum, inv_id, shp, algorithm)
    verdict = provider.verify_callback(
        make_account(hash_algorithm=algorithm), params, expected_amount=Decimal(out_sum)
    )
    assert verdict.accepted, verdict.reason
    assert verdict.invoice_id == inv_id
    assert verdict.amount == Decimal(out_sum)
    assert dict(verdict.extra) == {key[4:]: value for key, value in shp.items()}
    # Our own signer agrees with the fake's independent one.
    base = notification_signature_base(
        out_sum=out_sum, inv_id=str(inv_id), password=PASSWORD2, shp=shp.items()
    )
    assert hex_digest(algorithm, base).upper() == params["SignatureValue"]


@st.composite
def tampered_callbacks(draw):
    out_sum, inv_id, shp = draw(amount_texts), draw(inv_ids), draw(shp_sets)
    algorithm = draw(algorithms)
    params = _signed(out_sum, inv_id, shp, algorithm)
    targets = [("OutSum", "value"), ("InvId", "value"), ("SignatureValue", "value")]
    targets += [(key, part) for key in shp for part in ("key", "value")]
    field, part = draw(st.sampled_from(targets))
    original = field if part == "key" else params[field]
    edit = draw(st.sampled_from(["replace", "insert", "delete"]))
    position = draw(st.integers(min_value=0, max_value=max(len(original) - 1, 0)))
    char = draw(st.characters(codec="utf-8", exclude_characters="\x00"))
    if edit == "replace" and original:
        changed = original[:position] + char + original[position + 1 :]
    elif edit == "delete" and original:
        changed = original[:position] + original[position + 1 :]
    else:
        changed = original[:position] + char + original[position:]
    assume(changed != original)
    if field == "SignatureValue":
        assume(changed.upper() != original.upper())  # hex case is not a change
    if part == "key":
        value = params.pop(field)
        params[changed] = value
    else:
        params[field] = changed
    return algorithm, params


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(tampered_callbacks())
def test_any_single_character_change_fails(case):
    algorithm, params = case
    verdict = provider.verify_callback(
        make_account(hash_algorithm=algorithm), params, expected_amount=None
    )
    assert not verdict.accepted


@given(amount_texts, inv_ids, shp_sets.filter(bool), algorithms, st.data())
def test_missing_shp_fails(out_sum, inv_id, shp, algorithm, data):
    params = _signed(out_sum, inv_id, shp, algorithm)
    del params[data.draw(st.sampled_from(sorted(shp)))]
    verdict = provider.verify_callback(
        make_account(hash_algorithm=algorithm), params, expected_amount=None
    )
    assert verdict.reason_code == "bad_signature"


@given(amount_texts, inv_ids, shp_sets, algorithms, shp_names, shp_values)
def test_extra_shp_fails(out_sum, inv_id, shp, algorithm, name, value):
    assume(f"Shp_{name}" not in shp)
    params = _signed(out_sum, inv_id, shp, algorithm)
    params[f"Shp_{name}"] = value
    verdict = provider.verify_callback(
        make_account(hash_algorithm=algorithm), params, expected_amount=None
    )
    assert verdict.reason_code == "bad_signature"


_fake = FakeRobokassa()  # only its request checker is used: no server needed


@settings(max_examples=150)
@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999"), places=2),
    inv_ids,
    st.dictionaries(shp_names, shp_values, max_size=5),
    algorithms,
    st.booleans(),
)
def test_every_issued_link_passes_the_fakes_signature_check(amount, inv_id, extra, alg, test):
    account = make_account(hash_algorithm=alg, test_mode=test)
    _fake.register_shop(
        account.login, PASSWORD1, PASSWORD2, TEST_PASSWORD1, TEST_PASSWORD2, hash_algorithm=alg
    )
    issued = provider.issue_invoice(
        account, make_request(invoice_id=inv_id, amount=amount, extra=extra)
    )
    params = parse_qsl(urlsplit(issued.payment_url).query, keep_blank_values=True)
    invoice = _fake.accept_payment_request(params)
    assert invoice.inv_id == inv_id
    assert invoice.out_sum == amount
    assert invoice.is_test is test
