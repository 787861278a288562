"""The auto-post form reader: what it reads from provider pages, and that its work is bounded."""

from __future__ import annotations

import itertools

import pytest

from routing.extract import html_form
from routing.extract.html_form import MAX_INPUTS, read_form

BIG = 1 << 20


def test_an_auto_post_form():
    page = (
        b'<!DOCTYPE html><html><head><title>Working...</title></head><body onload="document.forms[0].submit()">'
        b'<FORM METHOD="POST" ACTION="https://idp.example/sso?a=1&amp;b=2">'
        b'<INPUT TYPE="HIDDEN" NAME="SAMLRequest" VALUE="PHNhbWxwOkF1dGhuUmVxdWVzdC8+"/>'
        b"<input type=hidden name='RelayState' value='https://app.example/x?y=1&amp;z=%2F'>"
        b'<input type="hidden" name=state value=abc123>'
        b'<noscript><input type="submit" value="Continue"></noscript></FORM></body></html>'
    )
    form = read_form(page, max_size=BIG)
    assert form.action == "https://idp.example/sso?a=1&b=2"
    assert form.fields == {
        "SAMLRequest": "PHNhbWxwOkF1dGhuUmVxdWVzdC8+",
        "RelayState": "https://app.example/x?y=1&z=%2F",
        "state": "abc123",
    }


def test_only_the_names_asked_for_and_the_first_value_of_each():
    page = (
        b'<form action="/cb"><input name="code" value="C1"><input name="other" value="o">'
        b'<input name="code" value="C2"></form>'
    )
    assert read_form(page, max_size=BIG, names=frozenset({"code"})).fields == {"code": "C1"}


def test_no_form_no_fields():
    assert read_form(b'<html><input name="code" value="C1"></html>', max_size=BIG) == (None, {})
    assert read_form(b'<form><input name="code" value="C1"></form>', max_size=10) == (None, {})


@pytest.mark.parametrize(
    "hidden",
    [
        b'<!-- <input name="code" value="C9"> -->',
        b'<script>var t = \'<input name="code" value="C9">\';</script>',
        b'<SCRIPT type="text/template"><input name="code" value="C9"></SCRIPT>',
        b'<style>/* <input name="code" value="C9"> */</style>',
    ],
    ids=["comment", "script", "template", "style"],
)
def test_inputs_in_comments_scripts_and_styles_are_not_fields(hidden):
    page = b'<form action="/x">' + hidden + b'<input name="state" value="S1"></form>'
    assert read_form(page, max_size=BIG).fields == {"state": "S1"}


def test_an_unclosed_comment_or_tag_ends_the_scan():
    assert read_form(b'<form><input name="a" value="1"><!-- <input name="b" value="2">', max_size=BIG).fields == {
        "a": "1"
    }
    assert read_form(b'<form><input name="a" value="1"><input name="b" value="never closed', max_size=BIG).fields == {
        "a": "1"
    }


def test_at_most_max_inputs_are_read():
    page = b"<form>" + b"".join(b'<input name="f%d" value="v">' % i for i in range(MAX_INPUTS + 10)) + b"</form>"
    fields = read_form(page, max_size=BIG).fields
    assert len(fields) == MAX_INPUTS and "f0" in fields and f"f{MAX_INPUTS}" not in fields


def test_each_byte_is_examined_a_bounded_number_of_times(monkeypatch):
    """Counted, not timed: a hosted-login page's worth of markup, scripts and attributes costs one
    tag match per input read, and no byte of a tag is parsed twice."""
    ends, regions = [], []
    real_end, real_attr = html_form._TAG_END, html_form._ATTR

    class End:
        def match(self, page, pos):
            ends.append(pos)
            return real_end.match(page, pos)

    class Attr:
        def findall(self, page, pos, endpos):
            regions.append((pos, endpos))
            return real_attr.findall(page, pos, endpos)

    monkeypatch.setattr(html_form, "_TAG_END", End())
    monkeypatch.setattr(html_form, "_ATTR", Attr())
    chunk = (
        b'<div class="c"><script>var s = "<input name=x>"; if (a < b) {}</script>'
        b'<input type="text" name="username" autocomplete="username" value="">' + b"<p>text</p>" * 40 + b"</div>"
    )
    page = b'<form method="post" action="/u/login?state=S">' + chunk * 40 + b"</form>"
    assert len(page) > 20_000
    assert read_form(page, max_size=BIG).fields == {"username": ""}
    assert len(ends) == 1 + 40  # the form tag, then each input outside the scripts
    regions.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(regions))  # no byte parsed twice
    assert sum(e - s for s, e in regions) < 41 * 80
