"""Email templates are data edited by operators: render them in a sandbox, never crash a run on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_text_env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_html_env = ImmutableSandboxedEnvironment(autoescape=True, keep_trailing_newline=True)


class TemplateRenderError(Exception):
    """A template could not be rendered; the message names the template and the problem."""


def render(template: str, context: Mapping[str, Any], *, html: bool = False, name: str = "template") -> str:
    env = _html_env if html else _text_env
    try:
        return env.from_string(template).render(**context)
    except TemplateError as exc:
        raise TemplateRenderError(f"{name}: {type(exc).__name__}: {exc}") from None


def render_or_raw(
    template: str, context: Mapping[str, Any], *, html: bool = False, name: str = "template"
) -> tuple[str, str | None]:
    """Rendered text, or the raw template with the error: a broken template must not stop the email."""
    try:
        return render(template, context, html=html, name=name), None
    except TemplateRenderError as exc:
        return template, str(exc)
