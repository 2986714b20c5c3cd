"""The new network's first steps, each ticked from real data (never from a flag someone sets): the
panel's home shows them as a checklist with a progress bar until the first real payment arrives.
A read across network, payments and crm_sync, so it lives with the panel (an edge), above them."""

from __future__ import annotations

from dataclasses import dataclass

from franchise_platform.crm_sync.models import ConnectionStatus, CrmConnection
from franchise_platform.network.models import Location, Partner
from franchise_platform.payments.models import Payment, PaymentLink


@dataclass(frozen=True)
class OnboardingStep:
    key: str
    done: bool


@dataclass(frozen=True)
class OnboardingProgress:
    steps: tuple[OnboardingStep, ...]

    @property
    def done(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def complete(self) -> bool:
        return self.done == self.total

    def step(self, key: str) -> OnboardingStep:
        return next(step for step in self.steps if step.key == key)


STEP_KEYS = (
    "partner_added",
    "shop_checked",
    "locations_bound",
    "crm_connected",
    "links_generated",
    "first_payment",
)


def onboarding_progress() -> OnboardingProgress:
    """The current network's steps (call inside its schema): one EXISTS query each."""
    done = {
        "partner_added": Partner.objects.exists(),
        # A verified test-mode notification reached the partner's Result URL.
        "shop_checked": Partner.objects.filter(shop_checked_at__isnull=False).exists(),
        # A location a manager can pick: active, and its partner works.
        "locations_bound": Location.objects.filter(active=True, partner__active=True).exists(),
        # Connected AND the lead fields created (their ids are in the field map).
        "crm_connected": CrmConnection.objects.filter(status=ConnectionStatus.CONNECTED)
        .exclude(field_map={})
        .exists(),
        "links_generated": PaymentLink.objects.exists(),
        "first_payment": Payment.objects.filter(is_test=False).exists(),
    }
    return OnboardingProgress(tuple(OnboardingStep(key, done[key]) for key in STEP_KEYS))
