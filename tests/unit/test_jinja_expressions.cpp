// Jinja expressions with Python's semantics: str() of every type (float repr, True/None,
// quoted strings inside lists), arithmetic (// and % floor, / gives a float), comparison and
// chaining, in / not in, and/or returning an operand, inline if, slicing, attribute and item
// access (dict.key falls back to the item), literals, tests and method calls. Expected
// strings worked out by hand from Python's and jinja2's rules.
#include <catch2/catch.hpp>

#include "jinja_fixtures.h"

using nlohmann::ordered_json;
using zili::test::render;

TEST_CASE("str() of values as Python prints them") {
  CHECK(render("{{ 1 }} {{ 1.5 }} {{ 1.0 }} {{ 100.0 }} {{ -0.0 }}") == "1 1.5 1.0 100.0 -0.0");
  CHECK(render("{{ 0.1 + 0.2 }} {{ 1/3 }}") == "0.30000000000000004 0.3333333333333333");
  CHECK(render("{{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 1.5e300 * 1e10 }}") ==
        "1e+16 1000000000000000.0 1e-05 0.0001 inf");
  CHECK(render("{{ true }} {{ False }} {{ none }} {{ None }} {{ undefined_thing }}|") ==
        "True False None None |");
  CHECK(render("{{ [1, 'a', none, true, 2.0, {'k': [1]}] }}") ==
        "[1, 'a', None, True, 2.0, {'k': [1]}]");
  CHECK(render("{{ (1,) }} {{ () }} {{ ('a', \"b'c\") }}") == "(1,) () ('a', \"b'c\")");
  CHECK(render("{{ x }}", {{"x", {{"b", "\n"}}}}) == "{'b': '\\n'}");
}

TEST_CASE("arithmetic follows Python") {
  CHECK(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 6 / 2 }}") ==
        "3 -4 2 -2 3.5 3.0");
  CHECK(render("{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}") ==
        "3.0 0.5 1024 64 4");
  CHECK(render("{{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ 'ab' * 2 }} {{ [0] * 2 }} {{ [1] + [2] }}") ==
        "14 20 abab [0, 0] [1, 2]");
  CHECK(render("{{ 'a' ~ 1 ~ none ~ true ~ 1.5 ~ nothing }}") == "a1NoneTrue1.5");
  CHECK(render("{{ '%s-%03d' % ('a', 7) }} {{ 'v=%s'|format(2) }}") == "a-007 v=2");
}

TEST_CASE("comparisons, in, and/or, not, inline if") {
  CHECK(render("{{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }}") ==
        "True True True False");
  CHECK(render("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ 2 >= 2 }}") ==
        "True False True True");
  CHECK(render("{{ 'at' in 'cat' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [3] }} "
               "{{ 'x' in nothing }}") == "True True True False False");
  CHECK(
      render("{{ 1 and 'b' }} {{ 0 or 'c' }} {{ none or [] }} {{ not 0 }} {{ not 'a' in 'ab' }}") ==
      "b c [] True False");
  CHECK(
      render("{{ 'y' if x else 'n' }} {{ 'a' if false else 'b' if true else 'c' }}|{{ 'z' if x }}|",
             {{"x", 1}}) == "y b|z|");
  CHECK(render("{{ 'z' if x }}|") == "|");
}

TEST_CASE("slices with negative bounds and steps") {
  CHECK(render("{{ 'abc'[::-1] }} {{ [1, 2, 3, 4, 5][1:-1] }} {{ [1, 2, 3, 4, 5][-2:] }}") ==
        "cba [2, 3, 4] [4, 5]");
  CHECK(render("{{ [1, 2, 3, 4, 5][::2] }} {{ [1, 2, 3][5:] }} {{ [1, 2, 3][::-1] }} "
               "{{ [1, 2, 3, 4][3:0:-2] }}") == "[1, 3, 5] [] [3, 2, 1] [4, 2]");
  CHECK(render("{{ 'h\xc3\xa9llo'[1:3] }} {{ 'abc'[-1] }} {{ (1, 2, 3)[1:] }}") ==
        "\xc3\xa9l c (2, 3)");
}

TEST_CASE("attribute and item access") {
  const ordered_json c = {{"d", {{"a", 1}, {"items", 2}, {"n", {{"b", "deep"}}}}},
                          {"l", {"x", "y"}}};
  CHECK(render("{{ d.a }} {{ d['a'] }} {{ d.n.b }} {{ d['n']['b'] }} {{ l[0] }} {{ l[-1] }} "
               "{{ l.1 }}",
               c) == "1 1 deep deep x y y");
  CHECK(render("{{ d.missing }}|{{ d['missing'] }}|{{ l[5] }}|{{ none.x }}|", c) == "||||");
  CHECK(render("{{ d['items'] }} {{ d.missing is defined }} {{ d.a is defined }}", c) ==
        "2 False True");
}

TEST_CASE("dict and list methods") {
  const ordered_json c = {{"d", {{"b", 1}, {"a", 2}}}};
  CHECK(render("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys()|list }} "
               "{{ d.values()|list }} {{ d.items()|list }}",
               c) == "2 None 5 ['b', 'a'] [1, 2] [('b', 1), ('a', 2)]");
  CHECK(render("{{ [1, 2, 1].count(1) }} {{ ['a', 'b'].index('b') }}") == "2 1");
}

TEST_CASE("string methods") {
  CHECK(render("{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|"
               "{{ 'a  '.rstrip() }}|{{ 'a\\n'.rstrip('\\n') }}") == "a b|a|a|a|a");
  CHECK(render("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} "
               "{{ 'a b c'.split(none, 1) }} {{ 'a,b,c'.rsplit(',', 1) }}") ==
        "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c'] ['a', 'b c'] ['a,b', 'c']");
  CHECK(render("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} "
               "{{ 'abc'.startswith('b') }}") == "True True False");
  CHECK(render("{{ 'aBc'.upper() }} {{ 'aBc'.lower() }} {{ \"they're bill's\".title() }} "
               "{{ 'hELLO'.capitalize() }}") == "ABC abc They'Re Bill'S Hello");
  CHECK(
      render("{{ 'a b'.replace(' ', '_') }} {{ 'hello'.find('l') }} {{ 'hello'.find('z') }} "
             "{{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }} {{ '{}+{x}'.format(1, x=2) }}") ==
      "a_b 2 -1 2 a-b 1+2");
}

TEST_CASE("tests with is and is not") {
  CHECK(render("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is not none }}") ==
        "False True True True");
  CHECK(render("{{ 'a' is string }} {{ {} is mapping }} {{ [] is mapping }} {{ [] is iterable }} "
               "{{ 'a' is iterable }} {{ 1 is iterable }}") == "True True False True True False");
  CHECK(render("{{ 1 is number }} {{ true is number }} {{ 1.0 is integer }} {{ 1 is integer }} "
               "{{ true is integer }} {{ 1.0 is float }}") == "True True False True False True");
  CHECK(render("{{ [] is sequence }} {{ 'a' is sequence }} {{ true is boolean }} "
               "{{ 1 is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }}") ==
        "True True True False True False True");
  CHECK(render("{{ 2 is equalto 2 }} {{ 2 is eq(3) }} {{ 3 is odd }} "
               "{{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }}") ==
        "True False True True True False");
}

TEST_CASE("globals: range, dict, namespace") {
  CHECK(render("{{ range(3)|list }} {{ range(1, 10, 4)|list }} {{ range(5, 0, -2)|list }}") ==
        "[0, 1, 2] [1, 5, 9] [5, 3, 1]");
  CHECK(render("{{ dict(a=1, b='x') }} {{ dict([('k', 1)]) }}") == "{'a': 1, 'b': 'x'} {'k': 1}");
  CHECK(render("{% set ns = namespace(a=1) %}{{ ns.a }}{% set ns.b = 2 %}{{ ns.b }}") == "12");
  CHECK(render("{{ strftime_now('%Y')|length }}") == "4");
}
