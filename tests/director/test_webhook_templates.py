"""The Go template check webhooks' templates pass: what Go's text/template parser accepts, and what it refuses."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from director.webhook.templates import TemplateError, check_template

# Templates of the kinds Compass's tenant-mapping configuration and e2e tests write.
ACCEPTED = [
    pytest.param('{"path": "https://x.example.com/{{.Application.ID}}", "method": "DELETE"}', id="field"),
    pytest.param('{"a": "{{ if .Assignment }}{{ .Assignment.State }}{{ else }}none{{ end }}"}', id="if-else"),
    pytest.param("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", id="else-if"),
    pytest.param('[{{range $i, $l := .Labels}}{{if $i}},{{end}}"{{$l}}"{{end}}]', id="range-with-variables"),
    pytest.param("{{range .Items}}{{if .Skip}}{{continue}}{{end}}{{break}}{{end}}", id="break-continue"),
    pytest.param('{{ toJson .Formation | quote }} {{ printf "%s-%d" .Name 3 }}', id="pipelines"),
    pytest.param("{{- .Trimmed -}} {{/* a comment */}}", id="trim-and-comment"),
    pytest.param('{{define "x"}}{{.}}{{end}}{{template "x" .}}{{block "y" .}}default{{end}}', id="named"),
    pytest.param("{{ (index .Labels `global`) }} {{ 'c' }}", id="raw-string-and-char"),
    pytest.param('{"static": "no actions at all"}', id="plain-text"),
]

REFUSED = [
    pytest.param("{{if .A}}a", "unexpected EOF: {{if}} has no {{end}}", id="unclosed-if"),
    pytest.param("a{{end}}", "unexpected {{end}}", id="stray-end"),
    pytest.param("{{.A", "unclosed action", id="unclosed-action"),
    pytest.param('{{ "abc }}', "unterminated quoted string", id="unterminated-string"),
    pytest.param("{{}}", "missing value for command", id="empty-action"),
    pytest.param("{{else}}", "unexpected {{else}}", id="stray-else"),
    pytest.param("{{if .A}}{{else}}{{else}}{{end}}", "expected end; found {{else}}", id="two-elses"),
    pytest.param("{{break}}", "{{break}} outside {{range}}", id="break-outside-range"),
    pytest.param("{{(.A}}", "unclosed left paren", id="unclosed-paren"),
    pytest.param("{{.A)}}", "unexpected right paren", id="stray-paren"),
    pytest.param("{{if}}{{end}}", "missing value for if", id="if-without-condition"),
    pytest.param("{{template x}}", "template needs a quoted template name", id="unquoted-name"),
    pytest.param("{{/* open", "unclosed comment", id="unclosed-comment"),
]


@pytest.mark.parametrize("template", ACCEPTED)
def test_what_go_parses_is_accepted(template: str) -> None:
    check_template(template)


@pytest.mark.parametrize(("template", "reason"), REFUSED)
def test_what_go_refuses_is_refused_with_the_reason(template: str, reason: str) -> None:
    with pytest.raises(TemplateError) as refused:
        check_template(template)

    assert str(refused.value) == f"line 1: {reason}"


def test_the_reason_names_the_line_of_the_action() -> None:
    with pytest.raises(TemplateError, match=r"^line 3: "):
        check_template('{\n  "a": "b",\n  "c": {{ if .C }}\n}')


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('{}()"`\'/*-. $:=|\nabcdefifrangeelsewith')), max_size=60))
def test_any_text_is_accepted_or_refused_with_a_template_error(text: str) -> None:
    with contextlib.suppress(TemplateError):
        check_template(text)
