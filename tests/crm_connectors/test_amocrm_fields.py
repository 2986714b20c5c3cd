"""ensure_fields: find or create the platform's lead fields; locations follow the network."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from crm_connectors.amocrm.connector import AmoCrmConnector
from crm_connectors.amocrm.fields import FieldOptions, plan_enums
from crm_connectors.base import FieldMap, LocationOption
from tests.fakes.amocrm import FakeAmoCrm

NAMES = {
    "Локация": "select",
    "Ссылка на предоплату": "url",
    "Ссылка на полную оплату": "url",
    "Оплачено": "numeric",
    "Статус оплаты": "select",
}
A = LocationOption("a", "Квест «Тайная комната»")
B = LocationOption("b", "Квест «Подземелье»")
C = LocationOption("c", "Квест «Пила»")


def options_of(fake: FakeAmoCrm, account_id: int, field_id: int) -> dict[int, str]:
    field = next(f for f in fake.fields(account_id) if f["id"] == field_id)
    return {e["id"]: e["value"] for e in field["enums"]}


def writes(fake: FakeAmoCrm, account_id: int) -> int:
    return len(fake.api_requests(account_id, methods=["POST", "PATCH", "DELETE"]))


def test_first_run_creates_the_five_fields_with_ids_from_the_account(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fields = connector.ensure_fields([A, B], None)

    by_name = {f["name"]: f for f in fake.fields(account_id) if f["name"] in NAMES}
    assert {name: f["type"] for name, f in by_name.items()} == NAMES
    assert fields.location_field_id == by_name["Локация"]["id"]
    assert fields.paid_sum_field_id == by_name["Оплачено"]["id"]
    assert fields.location_field_id > 1000  # the fake starts ids at a random offset
    assert options_of(fake, account_id, fields.location_field_id) == {
        fields.location_options["a"]: "Квест «Тайная комната»",
        fields.location_options["b"]: "Квест «Подземелье»",
    }
    assert set(fields.status_options) == {
        *("open", "partially_paid", "paid", "overpaid"),
        *("partially_refunded", "refunded"),
    }


def test_second_run_with_the_same_locations_writes_nothing(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    first = connector.ensure_fields([A, B], None)
    before = writes(fake, account_id)

    second = connector.ensure_fields([A, B], first)

    assert second == first
    assert writes(fake, account_id) == before


def test_a_lost_field_map_finds_the_existing_fields_instead_of_duplicating(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    first = connector.ensure_fields([A, B], None)
    before = writes(fake, account_id)

    again = connector.ensure_fields([A, B], None)

    assert again == first
    assert writes(fake, account_id) == before
    assert len(fake.field_by_name(account_id, "Локация")) == 1


def test_two_accounts_get_their_own_ids(
    fake: FakeAmoCrm, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    other = fake.add_account(subdomain="other")
    first = make_connector().ensure_fields([A], None)
    second = make_connector(account=other).ensure_fields([A], None)

    assert first.location_field_id != second.location_field_id
    assert first.location_options["a"] != second.location_options["a"]


def test_options_follow_added_renamed_and_deactivated_locations(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fields = connector.ensure_fields([A, B], None)
    fake.set_lead(account_id, 1, 100, location_enum_id=fields.location_options["b"])
    renamed_a = LocationOption("a", "Квест «Тайная комната 2.0»")
    inactive_b = LocationOption("b", B.name, active=False)

    updated = connector.ensure_fields([renamed_a, inactive_b, C], fields)

    assert updated.location_options["a"] == fields.location_options["a"]  # same option, renamed
    assert updated.location_options["b"] == fields.location_options["b"]  # kept, marked
    options = options_of(fake, account_id, updated.location_field_id)
    assert options[updated.location_options["a"]] == "Квест «Тайная комната 2.0»"
    assert options[updated.location_options["b"]] == "Квест «Подземелье» (неактивна)"
    assert options[updated.location_options["c"]] == "Квест «Пила»"
    # The lead that chose the deactivated location still resolves to it.
    assert connector.read_lead(1, updated).location_key == "b"
    # Sorted: active first, the inactive one last.
    field = next(f for f in fake.fields(account_id) if f["id"] == updated.location_field_id)
    ordered = [e["value"] for e in sorted(field["enums"], key=lambda e: e["sort"])]
    assert ordered[-1].endswith("(неактивна)")

    # Reactivated: the same option loses its mark.
    back = connector.ensure_fields([renamed_a, B, C], updated)
    assert back.location_options["b"] == fields.location_options["b"]
    assert (
        options_of(fake, account_id, back.location_field_id)[back.location_options["b"]] == B.name
    )


def test_a_location_missing_from_the_list_is_marked_inactive(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fields = connector.ensure_fields([A, B], None)

    updated = connector.ensure_fields([A], fields)

    options = options_of(fake, account_id, updated.location_field_id)
    assert options[updated.location_options["b"]] == "Квест «Подземелье» (неактивна)"


def test_remove_mode_deletes_deactivated_options(
    fake: FakeAmoCrm, account_id: int, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    connector = make_connector(field_options=FieldOptions(inactive_locations="remove"))
    fields = connector.ensure_fields([A, B], None)

    updated = connector.ensure_fields([A, LocationOption("b", B.name, active=False)], fields)

    assert "b" not in updated.location_options
    assert list(options_of(fake, account_id, updated.location_field_id).values()) == [A.name]


def test_options_added_by_hand_in_amocrm_are_kept(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fields = connector.ensure_fields([A], None)
    field = next(f for f in fake.fields(account_id) if f["id"] == fields.location_field_id)
    enums = [{"id": e["id"], "value": e["value"], "sort": e["sort"]} for e in field["enums"]]
    fake._patch_field(
        fake.accounts[account_id],
        {"enums": [*enums, {"value": "Добавлено вручную", "sort": 5}]},
        fields.location_field_id,
        "0",
    )

    updated = connector.ensure_fields([A, B], fields)

    values = set(options_of(fake, account_id, updated.location_field_id).values())
    assert values == {A.name, B.name, "Добавлено вручную"}


def test_a_field_deleted_by_an_admin_is_created_again(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fields = connector.ensure_fields([A], None)
    fake.accounts[account_id].fields.pop(fields.full_url_field_id)

    updated = connector.ensure_fields([A], fields)

    assert updated.full_url_field_id != fields.full_url_field_id
    assert updated.location_field_id == fields.location_field_id
    assert len(fake.field_by_name(account_id, "Ссылка на полную оплату")) == 1


def test_an_unrelated_field_with_our_name_but_another_type_is_not_adopted(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    foreign = fake.add_field(account_id, "Оплачено", "checkbox")

    fields = connector.ensure_fields([A], None)

    assert fields.paid_sum_field_id != foreign["id"]


def test_a_hand_made_location_field_is_adopted_with_its_options(
    fake: FakeAmoCrm, account_id: int, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    made = fake.add_field(account_id, "Локация", "select", enums=[A.name, "Офис"])
    connector = make_connector(field_options=FieldOptions(use_codes=False))

    fields = connector.ensure_fields([A, B], None)

    assert fields.location_field_id == made["id"]
    assert fields.location_options["a"] == made["enums"][0]["id"]
    assert set(options_of(fake, account_id, made["id"]).values()) == {A.name, B.name, "Офис"}


def test_duplicate_location_names_get_distinct_options(
    fake: FakeAmoCrm, account_id: int, connector: AmoCrmConnector
) -> None:
    fields = connector.ensure_fields([A, LocationOption("a2", A.name)], None)

    assert fields.location_options["a"] != fields.location_options["a2"]
    assert len(set(options_of(fake, account_id, fields.location_field_id).values())) == 2


def test_text_status_field_option(
    fake: FakeAmoCrm, account_id: int, make_connector: Callable[..., AmoCrmConnector]
) -> None:
    connector = make_connector(field_options=FieldOptions(status_field_type="text"))
    fields = connector.ensure_fields([A], None)
    fake.set_lead(account_id, 5, 1000)

    from decimal import Decimal

    from crm_connectors.base import DealStateUpdate

    connector.write_deal_state(DealStateUpdate(5, None, None, Decimal(0), "open"), fields)

    assert fields.status_options == {}
    assert fake.lead_values(account_id, 5)["Статус оплаты"] == "Не оплачено"


def test_field_map_round_trips_through_a_dict(connector: AmoCrmConnector) -> None:
    fields = connector.ensure_fields([A, B], None)

    assert FieldMap.from_dict(fields.to_dict()) == fields


# -- the pure planning step ------------------------------------------------------------------

names = st.text(alphabet="абвгдеёжз 1«»", min_size=1, max_size=6)
location_lists = st.lists(
    st.builds(LocationOption, key=st.sampled_from("abcdef"), name=names, active=st.booleans()),
    max_size=6,
    unique_by=lambda o: o.key,
)


def apply(plan_payload: list[dict[str, object]], next_id: list[int]) -> list[tuple[int, str, int]]:
    """What amoCRM does with a full enum list: keep ids given, mint ids for the rest."""
    result = []
    for item in plan_payload:
        enum_id = item.get("id")
        if enum_id is None:
            next_id[0] += 1
            enum_id = next_id[0]
        result.append((int(enum_id), str(item["value"]), int(item["sort"])))  # type: ignore[call-overload]
    return result


@given(first=location_lists, second=location_lists, mode=st.sampled_from(["mark", "remove"]))
def test_planning_twice_in_a_row_changes_nothing_the_second_time(
    first: list[LocationOption], second: list[LocationOption], mode: str
) -> None:
    next_id = [100]
    plan1 = plan_enums(first, {}, [], mode=mode)  # type: ignore[arg-type]
    current = apply(plan1.payload, next_id)
    by_value = {v: i for i, v, _ in current}
    map1 = {k: t if isinstance(t, int) else by_value[t] for k, t in plan1.assignments.items()}

    plan2 = plan_enums(second, map1, current, mode=mode)  # type: ignore[arg-type]
    current2 = apply(plan2.payload, next_id)
    by_value2 = {v: i for i, v, _ in current2}
    map2 = {k: t if isinstance(t, int) else by_value2[t] for k, t in plan2.assignments.items()}
    plan3 = plan_enums(second, map2, current2, mode=mode)  # type: ignore[arg-type]

    assert not plan3.changed
    values = [v for _, v, _ in current2]
    assert len(values) == len(set(values))  # option texts stay unique
    for option in second:
        if option.active:
            assert option.key in map2
        if option.key in map1 and option.key in map2:
            assert map1[option.key] == map2[option.key]  # a location keeps its option id
