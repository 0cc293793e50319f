"""The Go text/template engine webhooks' templates run on: Go's documented behaviour (text/template's package
documentation, section by section, under ``missingkey=zero``), Compass's functions, sprig's, and Compass's own
templates rendered against the objects Compass gives them.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from director.webhook.templates import (
    StringMap,
    TemplateError,
    check_template,
    render,
    render_json,
    response_data,
)

# --- "Text and spaces", "Comments" ------------------------------------------------------------------------------

TEXT = [
    pytest.param("plain text, no actions", {}, "plain text, no actions", id="text-is-copied-unchanged"),
    pytest.param("{{23 -}} < {{- 45}}", {}, "23<45", id="trim-markers-remove-adjacent-white-space"),
    pytest.param("a\n  {{- .A -}}  \nb", {"A": "x"}, "axb", id="trim-markers-remove-newlines-too"),
    pytest.param("{{-3}}", {}, "-3", id="a-dash-without-space-is-a-negative-number"),
    pytest.param("a{{/* a comment */}}b", {}, "ab", id="comments-print-nothing"),
    pytest.param("a {{- /* trimmed */ -}} b", {}, "ab", id="comments-take-trim-markers"),
    pytest.param("{{/* a\nmulti-line comment */}}", {}, "", id="comments-may-span-lines"),
]

# --- "Arguments": constants -------------------------------------------------------------------------------------

CONSTANTS = [
    pytest.param('{{"a\\tb\\u00e9\\x41"}}', {}, "a\tbéA", id="interpreted-strings-take-go-escapes"),
    pytest.param("{{`raw\\n`}}", {}, "raw\\n", id="raw-strings-keep-backslashes"),
    pytest.param("{{1e3}} {{1.5}} {{2.0}}", {}, "1000 1.5 2", id="floating-point-constants"),
    pytest.param("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", {}, "31 15 15 5 1000", id="integer-constants-in-go-bases"),
    pytest.param("{{'a'}} {{'\\n'}}", {}, "97 10", id="character-constants-are-their-code-points"),
    pytest.param("{{true}} {{false}}", {}, "true false", id="boolean-constants"),
]

# --- "Arguments": fields, keys, variables; "Pipelines" ----------------------------------------------------------

FIELDS = [
    pytest.param("{{.A.B}}", {"A": {"B": "b"}}, "b", id="a-key-chain-on-dot"),
    pytest.param("{{$x := .A}}{{$x.B}}", {"A": {"B": "b"}}, "b", id="a-key-chain-on-a-variable"),
    pytest.param("{{(.A).B}}", {"A": {"B": "b"}}, "b", id="a-key-chain-on-a-parenthesized-pipeline"),
    pytest.param("{{with .A}}{{$.C}}{{end}}", {"A": 1, "C": "root"}, "root", id="dollar-is-the-data-passed-to-execute"),
    pytest.param("{{.Missing}}", {}, "<no value>", id="a-missing-map-key-prints-no-value"),
    pytest.param("{{.Labels.region}}", {"Labels": StringMap()}, "", id="a-missing-key-of-a-string-map-is-empty"),
    pytest.param("{{.Ptr}}", {"Ptr": None}, "<nil>", id="a-nil-pointer-prints-nil"),
    pytest.param('{{"x" | printf "%s-%s" "y"}}', {}, "y-x", id="a-pipeline-passes-its-value-as-the-last-argument"),
    pytest.param('{{printf "%d" (len .L)}}', {"L": [1, 2]}, "2", id="a-parenthesized-pipeline-is-an-argument"),
    pytest.param("{{$x := 1}}{{$x = 2}}{{$x}}", {}, "2", id="a-variable-is-declared-then-assigned"),
    pytest.param("{{$x := 1}}", {}, "", id="a-declaration-prints-nothing"),
    pytest.param(
        "{{$x := 0}}{{range .L}}{{$x = .}}{{end}}{{$x}}", {"L": [1, 2, 3]}, "3", id="an-assignment-in-range-outlives-it"
    ),
]

# --- "Actions": if, with, range, break, continue ----------------------------------------------------------------

CONTROL = [
    pytest.param("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"B": 1}, "b", id="if-else-if-else"),
    pytest.param("{{if .E}}t{{else}}f{{end}}", {"E": []}, "f", id="an-empty-slice-is-false"),
    pytest.param("{{if .Z}}t{{else}}f{{end}}", {"Z": 0.0}, "f", id="zero-is-false"),
    pytest.param("{{if .S}}t{{else}}f{{end}}", {"S": " "}, "t", id="a-non-empty-string-is-true"),
    pytest.param("{{with .C}}{{.}}{{else}}none{{end}}", {"C": "x"}, "x", id="with-sets-dot"),
    pytest.param("{{with .D}}{{.}}{{else with .C}}{{.}}{{end}}", {"C": "c"}, "c", id="else-with"),
    pytest.param("{{range $i, $v := .L}}{{$i}}{{$v}}{{end}}", {"L": ["a", "b"]}, "0a1b", id="range-over-a-slice-with-index"),
    pytest.param("{{range .L}}{{.}}{{end}}", {"L": ["a", "b"]}, "ab", id="range-sets-dot-to-each-element"),
    pytest.param(
        "{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}", {"M": {"b": 2, "a": 1}}, "a=1;b=2;", id="range-over-a-map-sorts-keys"
    ),
    pytest.param("{{range $v := .M}}{{$v}}{{end}}", {"M": {"b": 2, "a": 1}}, "12", id="range-with-one-variable-gets-values"),
    pytest.param("{{range .E}}x{{else}}empty{{end}}", {"E": {}}, "empty", id="range-else-runs-for-nothing-to-visit"),
    pytest.param("{{range .L}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", {"L": [1, 2, 3]}, "1", id="break-ends-the-range"),
    pytest.param(
        "{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", {"L": [1, 2, 3]}, "13", id="continue-skips-the-rest"
    ),
    pytest.param("{{range 3}}{{.}}{{end}}", {}, "012", id="range-over-an-integer-counts-from-zero"),
    pytest.param("{{range .L}}{{$x := .}}{{$x}}{{end}}", {"L": [1, 2]}, "12", id="variables-are-scoped-to-the-iteration"),
]

# --- "Nested template definitions" ------------------------------------------------------------------------------

TEMPLATES = [
    pytest.param('{{define "t"}}[{{.}}]{{end}}{{template "t" .A}}', {"A": 1}, "[1]", id="template-runs-a-definition"),
    pytest.param('{{define "t"}}[{{.}}]{{end}}{{template "t"}}', {}, "[<no value>]", id="template-without-data-has-nil-dot"),
    pytest.param('{{block "b" .A}}<{{.}}>{{end}}', {"A": 1}, "<1>", id="block-defines-and-runs"),
    pytest.param('{{define "t"}}{{$}}{{end}}{{template "t" 5}}', {}, "5", id="a-definition-has-its-own-dollar"),
    pytest.param('{{define "e"}} {{end}}{{block "e" 1}}[{{.}}]{{end}}', {}, "[1]", id="an-empty-definition-is-replaced"),
]

# --- "Functions": Go's builtins ----------------------------------------------------------------------------------

BUILTINS = [
    pytest.param("{{and 1 0 2}}|{{and 1 2}}", {}, "0|2", id="and-returns-the-first-false-or-the-last-argument"),
    pytest.param('{{or 0 "" "x"}}|{{or 0 ""}}', {}, "x|", id="or-returns-the-first-true-or-the-last-argument"),
    pytest.param("{{and .P .P.X}}", {"P": None}, "<nil>", id="and-stops-at-the-first-false-argument"),
    pytest.param("{{not 0}} {{not .A}}", {"A": "x"}, "true false", id="not-negates-truth"),
    pytest.param('{{len "héllo"}} {{len .L}} {{len .M}}', {"L": [1], "M": {"a": 1, "b": 2}}, "6 1 2", id="len-counts-bytes"),
    pytest.param(
        '{{index .L 1}} {{index .M "a"}} {{index .N "a" 0}}',
        {"L": ["x", "y"], "M": {"a": 1}, "N": {"a": ["z"]}},
        "y 1 z",
        id="index-takes-several-indexes",
    ),
    pytest.param('{{index .M "z"}}', {"M": {}}, "<no value>", id="index-of-a-missing-key-is-no-value"),
    pytest.param('{{slice "abcd" 1 3}} {{slice .L 1}}', {"L": [1, 2, 3]}, "bc [2 3]", id="slice-of-strings-and-slices"),
    pytest.param('{{print 1 2}}|{{print "a" 1 2 "b"}}', {}, "1 2|a1 2b", id="print-spaces-operands-that-are-not-strings"),
    pytest.param('{{println 1 "a"}}', {}, "1 a\n", id="println-always-spaces-and-ends-the-line"),
    pytest.param('{{eq 1 2 3 1}} {{eq "a" "b"}}', {}, "true false", id="eq-compares-the-first-with-each-other"),
    pytest.param('{{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}', {}, "true true true true false", id="ordering"),
    pytest.param('{{eq .Missing "x"}}', {}, "false", id="eq-of-no-value-is-false"),
    pytest.param("{{html `<a href='x'>&\"</a>`}}", {}, "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;", id="html-escapes"),
    pytest.param("{{js `it's <b>=\"x\"`}}", {}, "it\\'s \\u003Cb\\u003E\\u003D\\\"x\\\"", id="js-escapes"),
    pytest.param('{{urlquery "a b&c=d/é"}}', {}, "a+b%26c%3Dd%2F%C3%A9", id="urlquery-escapes-for-a-query"),
]

# --- printing values (fmt's %v) and printf's verbs --------------------------------------------------------------

PRINTING = [
    pytest.param("{{.M}}", {"M": {"b": [1, None], "a": "x"}}, "map[a:x b:[1 <nil>]]", id="maps-print-sorted-by-key"),
    pytest.param("{{.L}}", {"L": ["p", 1, True]}, "[p 1 true]", id="slices-print-space-separated"),
    pytest.param(
        "{{.A}} {{.B}} {{.C}} {{.D}} {{.E}}",
        {"A": 1000000.0, "B": 123456.0, "C": 0.0001, "D": 0.00001, "E": 1.5e300},
        "1e+06 123456 0.0001 1e-05 1.5e+300",
        id="floats-print-shortest-with-an-exponent-from-1e+06",
    ),
    pytest.param('{{printf "%5.2f|%-4d|%04d" 3.14159 7 42}}', {}, " 3.14|7   |0042", id="printf-width-precision-flags"),
    pytest.param('{{printf "%q %t %x %c" "hi\\n" true 255 65}}', {}, '"hi\\n" true ff A', id="printf-verbs"),
    pytest.param('{{printf "%v|%s" .M .L}}', {"M": {"a": 1}, "L": ["p", "q"]}, "map[a:1]|[p q]", id="printf-v-and-s"),
    pytest.param('{{printf "%d" 1.5}}', {}, "%!d(float64=1.5)", id="printf-wrong-type"),
    pytest.param('{{printf "%d %d" 1}}', {}, "1 %!d(MISSING)", id="printf-missing-argument"),
    pytest.param('{{printf "%d" 1 2}}', {}, "1%!(EXTRA int=2)", id="printf-extra-argument"),
    pytest.param('{{printf "%[2]s-%[1]s %s" "a" "b"}}', {}, "b-a b", id="printf-explicit-argument-indexes"),
    pytest.param('{{printf "%v" .Missing}}', {}, "<nil>", id="no-value-as-an-argument-is-nil"),
]

# --- Compass's templatehelper functions -------------------------------------------------------------------------

CONFIGURATION = '{"a": {"b": [1, 2]}, "redirectProperties": true, "s": "text"}'
COMPASS = [
    pytest.param('{{contains .V "redirectProperties"}}', {"V": CONFIGURATION}, "true", id="contains-takes-the-document-first"),
    pytest.param("{{Join .S}}|{{Join .E}}", {"S": ["x", "y"], "E": []}, '"x", "y"|', id="Join-quotes-each-string"),
    pytest.param('{{copy .V "a.b"}}', {"V": CONFIGURATION}, "[1, 2]", id="copy-returns-raw-json-at-a-path"),
    pytest.param('{{copy .V "s"}}|{{copy .V "nope"}}', {"V": CONFIGURATION}, "text|", id="copy-returns-a-string-unquoted"),
    pytest.param('{{copy .V "a.b.1"}}', {"V": CONFIGURATION}, "2", id="copy-indexes-arrays"),
    pytest.param('{{copy .V "."}}', {"V": CONFIGURATION}, CONFIGURATION, id="copy-of-dot-is-the-whole-document"),
    pytest.param('{{$s := mkslice "a" "b"}}{{Join $s}}', {}, '"a", "b"', id="mkslice-makes-a-string-slice"),
    pytest.param("{{stringify .P}}|{{stringify 3}}|{{stringify .S}}", {"P": None, "S": "s"}, "|3|s", id="stringify"),
    pytest.param(
        '{{$e := mkslice `{"key":"key","value":"example.com"}` `{"key":"n.m","value":{"a":1}}` `{"key":"c","value":"7"}`}}'
        '{{updateAndCopy .C "key2" $e}}',
        {"C": '{"key2": {"old": "v"}, "other": 1}'},
        '"{\\"old\\":\\"v\\",\\"key\\":\\"example.com\\",\\"n\\":{\\"m\\":{\\"a\\":1}},\\"c\\":7}"',
        id="updateAndCopy-sets-json-or-string-values-and-quotes-the-result",
    ),
]

# --- sprig ------------------------------------------------------------------------------------------------------

SPRIG = [
    pytest.param("{{quote .A}}|{{.A | quote}}", {"A": 'a"b'}, '"a\\"b"|"a\\"b"', id="quote"),
    pytest.param("{{quote .Missing}}|{{quote .P}}", {"P": None}, '|"<nil>"', id="quote-skips-nil-interfaces-only"),
    pytest.param("{{squote .A}}", {"A": "x"}, "'x'", id="squote"),
    pytest.param(
        "{{toJson .M}}", {"M": {"b": "<&>", "a": [1, 2.5, None]}}, '{"a":[1,2.5,null],"b":"\\u003c\\u0026\\u003e"}', id="toJson"
    ),
    pytest.param(
        "{{toJson .A}} {{toJson .B}} {{toJson .C}}", {"A": 100.0, "B": 1e21, "C": 1e-7}, "100 1e+21 1e-7", id="toJson-floats"
    ),
    pytest.param("{{toRawJson .M}}", {"M": {"b": "<&>"}}, '{"b":"<&>"}', id="toRawJson-does-not-escape-html"),
    pytest.param("{{toPrettyJson .M}}", {"M": {"a": [1]}}, '{\n  "a": [\n    1\n  ]\n}', id="toPrettyJson"),
    pytest.param('{{default "d" .Missing}}|{{default "d" ""}}|{{default "d" "x"}}', {}, "d|d|x", id="default"),
    pytest.param('{{empty ""}} {{empty .L}} {{empty 1}}', {"L": []}, "true true false", id="empty"),
    pytest.param('{{coalesce .Missing "" "c"}}', {}, "c", id="coalesce"),
    pytest.param('{{ternary "y" "n" true}}', {}, "y", id="ternary"),
    pytest.param("{{toString 1.5}}|{{toString .L}}", {"L": [1]}, "1.5|[1]", id="toString"),
    pytest.param('{{(fromJson "{\\"a\\": 2}").a}}', {}, "2", id="fromJson"),
    pytest.param('{{upper "a"}}{{lower "B"}}{{trim "  c "}}', {}, "Abc", id="case-and-trim"),
    pytest.param('{{"pre-x" | trimPrefix "pre-"}} {{hasSuffix "x" "ax"}}', {}, "x true", id="prefixes-take-the-string-last"),
    pytest.param('{{replace "a" "b" "aa"}} {{repeat 2 "x"}} {{substr 1 3 "abcd"}}', {}, "bb xx bc", id="string-edits"),
    pytest.param('{{join "," .L}} {{splitList "," "a,b"}}', {"L": ["a", 1]}, "a,1 [a b]", id="join-and-split"),
    pytest.param('{{$d := dict "k" "v"}}{{get $d "k"}} {{hasKey $d "k"}} {{keys $d}}', {}, "v true [k]", id="dict"),
    pytest.param("{{first .L}} {{last .L}} {{list 1 2}}", {"L": [1, 2, 3]}, "1 3 [1 2]", id="lists"),
    pytest.param('{{b64enc "hi"}} {{b64dec "aGk="}}', {}, "aGk= hi", id="base64"),
    pytest.param('{{add 1 2 3}} {{sub 5 2}} {{div -7 2}} {{mod -7 2}} {{atoi "12"}}', {}, "6 3 -3 -1 12", id="arithmetic"),
]


@pytest.mark.parametrize(
    ("template", "data", "rendered"), [*TEXT, *CONSTANTS, *FIELDS, *CONTROL, *TEMPLATES, *BUILTINS, *PRINTING]
)
def test_text_template_documented_behaviour(template: str, data: dict[str, Any], rendered: str) -> None:
    assert render(template, data) == rendered


@pytest.mark.parametrize(("template", "data", "rendered"), COMPASS)
def test_compass_templatehelper_functions(template: str, data: dict[str, Any], rendered: str) -> None:
    assert render(template, data) == rendered


@pytest.mark.parametrize(("template", "data", "rendered"), SPRIG)
def test_sprig_functions(template: str, data: dict[str, Any], rendered: str) -> None:
    assert render(template, data) == rendered


# --- refusals: what Go's parser refuses, and what fails when executed --------------------------------------------

PARSE_ERRORS = [
    pytest.param("{{nope 1}}", 'function "nope" not defined', id="an-unknown-function"),
    pytest.param("{{$x}}", 'undefined variable "$x"', id="an-undeclared-variable"),
    pytest.param("{{if .A}}{{$y := 1}}{{end}}{{$y}}", 'undefined variable "$y"', id="a-variable-out-of-its-scope"),
    pytest.param('{{.A | "x"}}', "non executable command in pipeline stage 2", id="a-constant-as-a-later-stage"),
    pytest.param("{{ /* c */ }}", "unrecognized character in action: U+002F '/'", id="a-comment-after-a-space"),
    pytest.param("{{range $a, $b, $c := .}}{{end}}", "too many declarations in range", id="three-range-variables"),
    pytest.param("{{$x, $y := 1}}", "too many declarations in command", id="two-variables-outside-range"),
    pytest.param("{{'ab'}}", "malformed character constant: 'ab'", id="a-long-character-constant"),
    pytest.param('{{"\\q"}}', 'invalid syntax: "\\q"', id="an-unknown-escape"),
    pytest.param('{{define "a"}}x{{end}}{{define "a"}}y{{end}}', 'template: multiple definition of template "a"', id="redefinition"),
    pytest.param("{{range .}}{{else if .}}{{end}}", "unexpected <if> in input", id="else-if-in-range"),
    pytest.param('{{if .A}}{{define "x"}}{{end}}{{end}}', "unexpected <define> in command", id="define-inside-an-action"),
]


@pytest.mark.parametrize(("template", "reason"), PARSE_ERRORS)
def test_what_go_does_not_parse_is_refused(template: str, reason: str) -> None:
    with pytest.raises(TemplateError) as refused:
        check_template(template)

    assert str(refused.value) == f"line 1: {reason}"


def test_every_sprig_function_parses_as_in_compass() -> None:
    check_template('{{ uuidv4 }}{{ now | date "2006" }}{{ regexMatch "a" "b" }}{{ sha256sum "x" }}')


def test_a_sprig_function_pycompass_does_not_run_fails_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"error calling uuidv4: sprig's uuidv4 is not supported by pycompass"):
        render("{{uuidv4}}", {})


EXECUTION_ERRORS = [
    pytest.param("{{.A.B}}", {}, "<.A.B>: nil pointer evaluating interface {}.B", id="a-key-of-a-missing-key"),
    pytest.param("{{.P.B}}", {"P": None}, "<.P.B>: nil pointer evaluating *interface {}.B", id="a-key-of-a-nil-pointer"),
    pytest.param("{{.S.B}}", {"S": "x"}, "<.S.B>: can't evaluate field B in type string", id="a-key-of-a-string"),
    pytest.param("{{index .L 5}}", {"L": [1]}, "<index .L 5>: error calling index: index out of range: 5", id="index-out-of-range"),
    pytest.param("{{len 3}}", {}, "<len 3>: error calling len: len of type int", id="len-of-a-number"),
    pytest.param("{{eq 1 1.0}}", {}, "<eq 1 1.0>: error calling eq: incompatible types for comparison", id="eq-int-and-float"),
    pytest.param("{{eq .A nil}}", {}, "<eq .A nil>: cannot assign nil to reflect.Value", id="nil-to-a-comparison"),
    pytest.param("{{lt true false}}", {}, "<lt true false>: error calling lt: invalid type for comparison", id="lt-of-booleans"),
    pytest.param("{{.A 1}}", {"A": {}}, "<.A 1>: A is not a method but has arguments", id="arguments-to-a-key"),
    pytest.param("{{1 2}}", {}, "<1 2>: can't give argument to non-function 1", id="arguments-to-a-constant"),
    pytest.param("{{nil}}", {}, "<nil>: nil is not a command", id="nil-as-a-command"),
    pytest.param("{{printf}}", {}, "<printf>: wrong number of args for printf: want at least 1 got 0", id="too-few-arguments"),
    pytest.param("{{lower 1}}", {}, "<lower 1>: error calling lower: wrong type for value; expected string; got int", id="wrong-type"),
    pytest.param("{{range .S}}{{end}}", {"S": "abc"}, "<.S>: range can't iterate over abc", id="range-over-a-string"),
]


@pytest.mark.parametrize(("template", "data", "reason"), EXECUTION_ERRORS)
def test_what_go_cannot_execute_fails_with_the_node(template: str, data: dict[str, Any], reason: str) -> None:
    with pytest.raises(TemplateError) as failed:
        render(template, data)

    assert str(failed.value) == f"line 1: executing at {reason}"


def test_assigning_an_undeclared_variable_fails_when_executed() -> None:
    check_template("{{$x = 1}}")

    with pytest.raises(TemplateError, match=r"undefined variable: \$x$"):
        render("{{$x = 1}}", {})


def test_a_missing_template_fails_when_called() -> None:
    with pytest.raises(TemplateError, match=r'^line 1: no such template "x"$'):
        render('{{template "x"}}', {})


def test_recursion_through_templates_is_bounded() -> None:
    with pytest.raises(TemplateError, match=r"exceeded maximum template depth \(100\)"):
        render('{{define "r"}}{{template "r"}}{{end}}{{template "r"}}', {})


def test_execution_is_bounded_in_steps() -> None:
    with pytest.raises(TemplateError, match=r"template takes more than 100000 steps"):
        render("{{range 100001}}{{end}}", {})


def test_repeat_past_the_output_limit_is_refused_before_it_is_made() -> None:
    with pytest.raises(TemplateError, match=r"error calling repeat: result longer than 4194304 characters"):
        render('{{repeat 100000000000 "x"}}', {})


def test_indent_past_the_output_limit_is_refused_before_it_is_made() -> None:
    with pytest.raises(TemplateError, match=r"error calling indent: result longer than 4194304 characters"):
        render('{{indent 100000000000 "x"}}', {})


def test_replace_past_the_output_limit_is_refused_before_it_is_made() -> None:
    with pytest.raises(TemplateError, match=r"error calling replace: result longer than 4194304 characters"):
        render('{{replace "" (repeat 4000 "y") (repeat 4000 "x")}}', {})


def test_a_doubling_loop_fails_once_a_functions_result_passes_the_output_limit() -> None:
    with pytest.raises(TemplateError, match=r"error calling print: result longer than 4194304 characters"):
        render('{{$s := "xx"}}{{range 40}}{{$s = print $s $s}}{{end}}', {})


def test_printing_a_list_nested_in_itself_is_refused_before_it_is_written() -> None:
    with pytest.raises(TemplateError, match=r"error calling toJson: result longer than 4194304 characters"):
        render('{{$l := list "x"}}{{range 80}}{{$l = list $l $l}}{{end}}{{toJson $l}}', {})


def test_a_printf_width_past_the_output_limit_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"error calling printf: result longer than 4194304 characters"):
        render('{{printf "%10000000d" 1}}', {})


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        pytest.param('{{printf "%100000000d|%d" 1 2}}', "%!(NOVERB)%!(EXTRA int=1, int=2)", id="literal-width-overflows"),
        pytest.param('{{printf "%.100000000f|" 1.5}}', "%!(NOVERB)%!(EXTRA float64=1.5)", id="literal-precision-overflows"),
        pytest.param('{{printf "%*d" 2000000 1}}', "%!(BADWIDTH)1", id="argument-width-too-large"),
        pytest.param('{{printf "%.*f" 2000000 1.5}}', "%!(BADPREC)1.500000", id="argument-precision-too-large"),
        pytest.param('{{printf "%*d|" 3 1}}', "  1|", id="argument-width"),
        pytest.param('{{printf "%-*d|" -3 1}}', "1  |", id="negative-argument-width-pads-right"),
    ],
)
def test_printf_widths_and_precisions_as_go_bounds_them(template: str, rendered: str) -> None:
    assert render(template, {}) == rendered


# --- render_json: Compass's ParseTemplate -----------------------------------------------------------------------


def test_render_json_turns_quoted_nil_into_an_empty_string_and_bare_nil_into_null() -> None:
    assert render_json('{"a": "{{.P}}", "b": {{.P}}}', {"P": None}) == {"a": "", "b": None}


def test_render_json_refuses_what_is_not_json() -> None:
    with pytest.raises(TemplateError, match=r"^the rendered template is not valid JSON: "):
        render_json('{"a": {{.A}}}', {"A": "not json"})


# --- Compass's own templates, against the objects Compass renders them with --------------------------------------

# components/director/internal/domain/runtime/fixtures_test.go: the Kyma adapter's tenant-mapping webhook.
KYMA_URL = '{"path":"https://adapter/kyma-adapter/v1/tenantMappings/{{.Runtime.Labels.global_subaccount_id}}","method":"PATCH"}'
KYMA_INPUT = (
    '{"context":{"platform":"{{if .CustomerTenantContext.AccountID}}btp{{else}}unified-services{{end}}",'
    '"uclFormationId":"{{.FormationID}}","accountId":"{{if .CustomerTenantContext.AccountID}}'
    '{{.CustomerTenantContext.AccountID}}{{else}}{{.CustomerTenantContext.Path}}{{end}}",'
    '"crmId":"{{.CustomerTenantContext.CustomerID}}","operation":"{{.Operation}}"},'
    '"assignedTenant":{"state":"{{.Assignment.State}}","uclAssignmentId":"{{.Assignment.ID}}",'
    '"deploymentRegion":"{{if .Application.Labels.region}}{{.Application.Labels.region}}{{else}}'
    '{{.ApplicationTemplate.Labels.region}}{{end}}","applicationNamespace":"{{if .Application.ApplicationNamespace}}'
    '{{.Application.ApplicationNamespace}}{{else}}{{.ApplicationTemplate.ApplicationNamespace}}{{end}}",'
    '"applicationUrl":"{{.Application.BaseURL}}","applicationTenantId":"{{.Application.LocalTenantID}}",'
    '"uclSystemName":"{{.Application.Name}}","uclSystemTenantId":"{{.Application.ID}}",'
    '{{if .ApplicationTemplate.Labels.parameters}}"parameters":{{.ApplicationTemplate.Labels.parameters}},{{end}}'
    '"configuration":{{.ReverseAssignment.Value}}},"receiverTenant":{"ownerTenant":"{{.Runtime.Tenant.Parent}}",'
    '"state":"{{.ReverseAssignment.State}}","uclAssignmentId":"{{.ReverseAssignment.ID}}",'
    '"deploymentRegion":"{{if and .RuntimeContext .RuntimeContext.Labels.region}}{{.RuntimeContext.Labels.region}}'
    '{{else}}{{.Runtime.Labels.region}}{{end}}","applicationNamespace":"{{.Runtime.ApplicationNamespace}}",'
    '"applicationTenantId":"{{if .RuntimeContext}}{{.RuntimeContext.Value}}{{else}}'
    '{{.Runtime.Labels.global_subaccount_id}}{{end}}","uclSystemTenantId":"{{if .RuntimeContext}}{{.RuntimeContext.ID}}'
    '{{else}}{{.Runtime.ID}}{{end}}",{{if .Runtime.Labels.parameters}}"parameters":{{.Runtime.Labels.parameters}},'
    '{{end}}"configuration":{{.Assignment.Value}}}}'
)
KYMA_OUTPUT = '{"error":"{{.Body.error}}","state":"{{.Body.state}}","success_status_code": 200,"incomplete_status_code": 422}'


def _formation_change() -> dict[str, Any]:
    """A FormationConfigurationChangeInput: an application assigned to a runtime, with no runtime context."""
    return {
        "Operation": "assign",
        "FormationID": "f-1",
        "CustomerTenantContext": {"CustomerID": "crm-1", "CostObjectID": "", "AccountID": None, "Path": "path/1"},
        "Application": {
            "ID": "app-1",
            "Name": "shop",
            "BaseURL": None,
            "LocalTenantID": "local-1",
            "ApplicationNamespace": None,
            "Labels": StringMap(region="eu-1"),
        },
        "ApplicationTemplate": {"ApplicationNamespace": "sap.app", "Labels": StringMap()},
        "Runtime": {
            "ID": "rt-1",
            "ApplicationNamespace": None,
            "Labels": StringMap(global_subaccount_id="sub-1", region="eu-2"),
            "Tenant": {"Parent": "parent-1", "Labels": StringMap()},
        },
        "RuntimeContext": None,
        "Assignment": {"ID": "fa-1", "State": "INITIAL", "Value": None},
        "ReverseAssignment": {"ID": "fa-2", "State": "READY", "Value": '{"key": "value"}'},
    }


def test_compass_kyma_adapter_url_template() -> None:
    assert render_json(KYMA_URL, _formation_change()) == {
        "path": "https://adapter/kyma-adapter/v1/tenantMappings/sub-1",
        "method": "PATCH",
    }


def test_compass_kyma_adapter_input_template() -> None:
    body = render_json(KYMA_INPUT, _formation_change())

    assert body == {
        "context": {
            "platform": "unified-services",
            "uclFormationId": "f-1",
            "accountId": "path/1",
            "crmId": "crm-1",
            "operation": "assign",
        },
        "assignedTenant": {
            "state": "INITIAL",
            "uclAssignmentId": "fa-1",
            "deploymentRegion": "eu-1",
            "applicationNamespace": "sap.app",
            "applicationUrl": "",
            "applicationTenantId": "local-1",
            "uclSystemName": "shop",
            "uclSystemTenantId": "app-1",
            "configuration": {"key": "value"},
        },
        "receiverTenant": {
            "ownerTenant": "parent-1",
            "state": "READY",
            "uclAssignmentId": "fa-2",
            "deploymentRegion": "eu-2",
            "applicationNamespace": "",
            "applicationTenantId": "sub-1",
            "uclSystemTenantId": "rt-1",
            "configuration": None,
        },
    }


def test_compass_kyma_adapter_output_template_on_a_response_without_an_error() -> None:
    response = response_data([("content-type", "application/json")], b'{"state": "READY", "error": null}')

    assert render_json(KYMA_OUTPUT, response) == {
        "error": "",
        "state": "READY",
        "success_status_code": 200,
        "incomplete_status_code": 422,
    }


def test_response_data_is_compass_response_object() -> None:
    headers = [("location", "https://x.example.com/operations/1"), ("Location", "ignored"), ("x-request-id", "r")]
    body = b'{"state": "READY", "error": null, "code": 200, "config": {"b": [1, 2.5], "a": "<x>"}}'

    assert response_data(headers, body) == {
        "Headers": {"Location": "https://x.example.com/operations/1", "X-Request-Id": "r"},
        "Body": {"state": "READY", "code": "200", "config": '{\\"a\\":\\"\\\\u003cx\\\\u003e\\",\\"b\\":[1,2.5]}'},
    }


def test_a_json_value_of_a_response_renders_as_json_inside_a_string() -> None:
    response = response_data([], b'{"config": {"a": "<x>", "n": 1}}')

    assert json.loads(render_json('{"config": "{{.Body.config}}"}', response)["config"]) == {"a": "<x>", "n": 1}


def test_a_response_that_is_not_a_json_object_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"^failed to unmarshall HTTP response with body: "):
        response_data([], b"[1]")


# tests/director/tests/notifications: the config mutator constraint's input template.
CONFIG_MUTATOR = (
    '{ "tenant":"{{.Tenant}}","only_for_source_subtypes":["app-type-1"],'
    '"source_resource_type": "{{.FormationAssignment.SourceType}}","source_resource_id": "{{.FormationAssignment.Source}}"'
    '{{if ne .NotificationStatusReport.State "CREATE_ERROR"}},"modified_configuration": '
    '{{ $slice := mkslice "{\\"key\\":\\"key\\",\\"value\\": \\"example.com\\"}" '
    '"{\\"key\\":\\"ID\\", \\"value\\":\\"0000-0000000-0000\\"}" }} '
    '{{updateAndCopy .NotificationStatusReport.Configuration "key2" $slice}}'
    '{{if eq .FormationAssignment.State "INITIAL"}},"state":"CONFIG_PENDING"{{ end }}{{ end }},'
    '"resource_type": "{{.ResourceType}}","resource_subtype": "{{.ResourceSubtype}}","operation": "{{.Operation}}",'
    '{{ if .NotificationStatusReport }}"notification_status_report_memory_address":{{ .NotificationStatusReport.GetAddress }},{{ end }}'
    '"join_point_location": {"OperationName":"{{.Location.OperationName}}","ConstraintType":"{{.Location.ConstraintType}}"}}'
)


def test_compass_config_mutator_template_updates_and_copies_the_reported_configuration() -> None:
    data = {
        "Tenant": "t-1",
        "FormationAssignment": {"SourceType": "APPLICATION", "Source": "app-1", "State": "INITIAL"},
        "NotificationStatusReport": {
            "State": "READY",
            "Configuration": '{"key2": {"credentials": "x"}}',
            "GetAddress": 824634330112,
        },
        "ResourceType": "APPLICATION",
        "ResourceSubtype": "app-type-2",
        "Operation": "assign",
        "Location": {"OperationName": "NotificationStatusReturned", "ConstraintType": "PRE"},
    }

    body = render_json(CONFIG_MUTATOR, data)

    assert json.loads(body["modified_configuration"]) == {
        "credentials": "x",
        "key": "example.com",
        "ID": "0000-0000000-0000",
    }
    assert body["state"] == "CONFIG_PENDING"
    assert body["notification_status_report_memory_address"] == 824634330112


# tests/instance-creator: the redirect operator's input template.
REDIRECT = (
    '{"should_redirect": {{ if and .ReverseFormationAssignment .ReverseFormationAssignment.Value '
    '(contains .ReverseFormationAssignment.Value "serviceInstances") }}true{{else}}false{{end}},'
    '"url_template": "t","resource_type": "{{.ResourceType}}"}'
)


@pytest.mark.parametrize(
    ("reverse", "redirect"),
    [
        pytest.param(None, False, id="no-reverse-assignment"),
        pytest.param({"Value": None}, False, id="no-value"),
        pytest.param({"Value": '{"serviceInstances": []}'}, True, id="service-instances-asked-for"),
    ],
)
def test_compass_redirect_template_short_circuits_on_a_missing_assignment(reverse: Any, redirect: bool) -> None:
    data = {"ReverseFormationAssignment": reverse, "ResourceType": "APPLICATION"}

    assert render_json(REDIRECT, data)["should_redirect"] is redirect


# components/director/pkg/graphql/app_template_validation_test.go: a configuration-changed webhook's input.
ATOM_OR_BTP = (
    '{"context":{ {{ if .CustomerTenantContext.AccountID }}"btp": {"uclFormationId":"{{.FormationID}}",'
    '"globalAccountId":"{{.CustomerTenantContext.AccountID}}","crmId":"{{.CustomerTenantContext.CustomerID}}"} '
    '{{ else }}"atom": {"uclFormationId":"{{.FormationID}}","path":"{{.CustomerTenantContext.Path}}",'
    '"crmId":"{{.CustomerTenantContext.CustomerID}}"} {{ end }} },"items": [ {"uclAssignmentId":"{{ .Assignment.ID }}",'
    '"operation":"{{.Operation}}","deploymentRegion":"{{if .Application.Labels.region }}{{.Application.Labels.region}}'
    '{{ else }}{{.ApplicationTemplate.Labels.region}}{{end }}","applicationNamespace":"{{ if .Application.ApplicationNamespace }}'
    '{{.Application.ApplicationNamespace}}{{else }}{{.ApplicationTemplate.ApplicationNamespace}}{{ end }}",'
    '"applicationTenantId":"{{.Application.LocalTenantID}}","uclSystemTenantId":"{{.Application.ID}}",'
    '{{ if .ApplicationTemplate.Labels.parameters }}"parameters": {{.ApplicationTemplate.Labels.parameters}},{{ end }}'
    '"configuration": {{.ReverseAssignment.Value}} } ] }'
)


def test_compass_btp_or_atom_template_chooses_by_the_customer_account() -> None:
    data = _formation_change()
    data["CustomerTenantContext"]["AccountID"] = "ga-1"
    data["ApplicationTemplate"]["Labels"] = StringMap(parameters='{"p": 1}')

    body = render_json(ATOM_OR_BTP, data)

    assert body["context"] == {"btp": {"uclFormationId": "f-1", "globalAccountId": "ga-1", "crmId": "crm-1"}}
    assert body["items"][0]["parameters"] == {"p": 1}
    assert body["items"][0]["configuration"] == {"key": "value"}


# components/director/pkg/webhook_client/client_test.go: an application's asynchronous unregister webhook.
UNREGISTER = {
    "url": '{"method": "DELETE","path":"https://test-domain.com/api/v1/applications/{{.Application.ID}}"}',
    "input": '{"application_id": "{{.Application.ID}}","name": "{{.Application.Name}}"}',
    "output": '{"location":"{{.Headers.Location}}","success_status_code": 202,"incomplete_status_code": 204,'
    '"error": "{{.Body.error}}"}',
    "status": '{"status":"{{.Body.status}}","success_status_code": 200,"success_status_identifier":"SUCCEEDED",'
    '"in_progress_status_identifier":"IN_PROGRESS","failed_status_identifier":"FAILED","error": "{{.Body.error}}"}',
}


def test_compass_application_lifecycle_templates() -> None:
    request = {"Application": {"ID": "app-1", "Name": "shop"}}
    response = response_data([("Location", "https://test-domain.com/operations/1")], b"{}")
    status = response_data([], b'{"status": "SUCCEEDED"}')

    assert render_json(UNREGISTER["url"], request)["path"] == "https://test-domain.com/api/v1/applications/app-1"
    assert render_json(UNREGISTER["input"], request) == {"application_id": "app-1", "name": "shop"}
    assert render_json(UNREGISTER["output"], response)["location"] == "https://test-domain.com/operations/1"
    assert render_json(UNREGISTER["status"], status)["status"] == "SUCCEEDED"


# --- any input ends in text or a TemplateError ------------------------------------------------------------------

_ALPHABET = list('{}()"`\'/*-. $:=|,\nabcdeifrangelsewthdnx01.')


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60))
def test_any_text_renders_or_fails_with_a_template_error(text: str) -> None:
    with contextlib.suppress(TemplateError):
        render(text, {"a": [1, {"b": None}], "x": "s"})
