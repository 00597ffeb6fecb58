"""GET-parameter forms: every filter is validated here before any query sees it.

Choice fields take their choices from the catalog or the data (symbols that exist), so a value that
is not one of them is a validation message, never part of a query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from apps.analytics.models import FlowGroupBy
from apps.core.flow_contract import MAX_WINDOW, MIN_WINDOW

DAYS_CHOICES = [(d, f"{d} days") for d in (30, 90, 180, 365, 730, 1825)]
ROW_CHOICES = [(n, str(n)) for n in (10, 25, 50, 100, 200)]


class GetForm(forms.Form):
    """A form bound to request.GET that renders without the ``id_`` noise."""

    def __init__(self, data=None, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "f_%s")
        super().__init__(data, *args, **kwargs)
        self._fill_defaults()

    def _fill_defaults(self) -> None:
        """A bound form shows (and validates) the defaults of parameters the URL left out."""
        if not self.is_bound:
            return
        self.data = self.data.copy()
        for name, field in self.fields.items():
            key = self.add_prefix(name)
            if not self.data.get(key) and field.initial is not None:
                self.data[key] = field.initial

    def value(self, name: str):
        """The cleaned value when valid, else the field's initial value."""
        if self.is_valid():
            return self.cleaned_data.get(name) or self.fields[name].initial
        return self.fields[name].initial


class SymbolForm(GetForm):
    symbol = forms.ChoiceField(choices=(), required=False)

    def __init__(self, data=None, *, symbols: list[str], **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.fields["symbol"].choices = [(s, s) for s in symbols]
        self.fields["symbol"].initial = symbols[0] if symbols else None
        self._fill_defaults()


class DerivedForm(SymbolForm):
    days = forms.TypedChoiceField(choices=DAYS_CHOICES, coerce=int, required=False, initial=365)


class FlowForm(SymbolForm):
    """Group-by and window default to the newest stored partition of the chosen symbol."""

    group_by = forms.ChoiceField(choices=FlowGroupBy.choices, required=False, initial="contract")
    window = forms.IntegerField(
        min_value=MIN_WINDOW, max_value=MAX_WINDOW, required=False, initial=1
    )
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")
    partition = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    URL_NAMES = {"date_from": "from", "date_to": "to"}

    def __init__(
        self,
        data=None,
        *,
        symbols: list[str],
        newest: Callable[[str], tuple[str, int, Any] | None] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(data, symbols=symbols, **kwargs)
        wanted = (data or {}).get("symbol") or self.fields["symbol"].initial
        series = newest(wanted) if newest and wanted in symbols else None
        if series:
            self.fields["group_by"].initial, self.fields["window"].initial = series[0], series[1]
            if self.is_bound:
                # Parameters the URL left out take the symbol's newest series, not the class default.
                for name in ("group_by", "window"):
                    if not (data or {}).get(name):
                        self.data[name] = self.fields[name].initial

    def add_prefix(self, field_name: str) -> str:
        """``from``/``to`` are the URL names (SPEC §9) but Python keywords, hence the mapping."""
        return self.URL_NAMES.get(field_name, super().add_prefix(field_name))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("“From” must be on or before “To”.")
        return cleaned


class HealthForm(GetForm):
    days = forms.IntegerField(min_value=1, max_value=365, required=False, initial=7)
    stale = forms.IntegerField(
        min_value=0, max_value=1000, required=False, label="Stale ≥ sessions"
    )
    rows = forms.TypedChoiceField(choices=ROW_CHOICES, coerce=int, required=False, initial=50)
    all = forms.BooleanField(required=False, label="Show healthy assets")


class TableForm(GetForm):
    """Only the shape of ``schema.name``; whether it exists is the catalog's answer."""

    table = forms.RegexField(
        regex=r"^(warehouse|meta)\.[A-Za-z_][A-Za-z0-9_]{0,62}$", required=False
    )
